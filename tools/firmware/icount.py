"""Exact executed-instruction counts of marked regions of a firmware image under QEMU.

Method (QEMU 7.2 as Debian ships it has ``-plugin`` but no plugin header package, so no TCG plugin):
QEMU runs with ``-singlestep`` (every translation block holds one guest instruction) and
``-d exec,nochain`` (a trace line before every executed block, block chaining off so none is
skipped), so the trace has exactly one line per executed instruction, each naming its PC. The trace
is streamed through a FIFO and never stored. A region is marked in C with ``icount_begin();`` and
``icount_end();`` (icount_markers.h); its count is the number of instructions executed after
``icount_begin`` returns, up to but not including the branch into ``icount_end``. These are
instruction counts, not cycles (QEMU models no pipeline, wait states or multi-cycle instructions).

    counts = count_regions(elf, args, timeout=600)   # one int per region, in execution order
    counts, pcs = count_regions(elf, args, profile={1})  # and {pc: executions} of region 1

A profile (``profile``: the indices of the regions to profile) counts the executions of each
instruction address inside the region (the marker call and return included, as in the count);
:func:`attribute` maps such a histogram to the innermost (inlined) function of each address with
``addr2line -i`` (the image needs ``-g``).
"""

import collections
import os
import re
import subprocess
import tempfile
import threading

from runner import FirmwareError, TIMEOUT_STATUS, describe_failure, qemu_command, BuildConfig

CHUNK = 1 << 22


def _symbol(elf, name):
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[0], 16) & ~1, int(parts[1], 16)
    raise FirmwareError(f"{elf}: no symbol {name} (include icount_markers.h and call the markers)", 2)


def _straight_line_length(elf, address, size):
    """Instructions executed by a leaf function without branches (the marker bodies)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", f"--start-address={address}",
                          f"--stop-address={address + size}", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    count = 0
    for line in out.splitlines():
        if re.match(r"\s+[0-9a-f]+:\s+[0-9a-f]{4}", line):
            count += 1
            if re.search(r"\bbx\s+lr\b", line):
                return count
    raise FirmwareError(f"{elf}: marker at {address:#x} does not end in 'bx lr'", 2)


def count_regions(elf, args=(), timeout=600.0, profile=None):
    """Run ``elf`` under QEMU with the execution trace and return the instruction count of every
    marked region, in order; with ``profile`` (a set of region indices) also ``{index: Counter of
    executions per PC}`` for those regions. Raises FirmwareError if the firmware fails, hangs or
    leaves a region open."""
    begin, begin_size = _symbol(elf, "icount_begin")
    end, _ = _symbol(elf, "icount_end")
    begin_len = _straight_line_length(elf, begin, begin_size)
    begin_key = b"/%08x/" % begin
    end_key = b"/%08x/" % end
    with tempfile.TemporaryDirectory(prefix="fw-icount-") as tmp:
        fifo = os.path.join(tmp, "trace")
        os.mkfifo(fifo)
        cmd = qemu_command(elf, [str(a) for a in args],
                           extra=["-singlestep", "-d", "exec,nochain", "-D", fifo])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        output = []
        reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
        reader.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        counts = []
        profiles = {}
        try:
            with open(fifo, "rb") as trace:
                counts = _scan(trace, begin_key, end_key, begin_len, set(profile or ()), profiles)
            status = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join()
        text = (output[0] if output else b"").decode(errors="replace")
        if status == -9:
            raise FirmwareError(f"firmware hang: no exit within {timeout:g} s under the trace",
                                TIMEOUT_STATUS, text)
        if status != 0:
            raise FirmwareError(describe_failure(status, text, BuildConfig()), status, text)
    return counts if profile is None else (counts, profiles)


_PC = re.compile(rb"\[[0-9a-f]{8}/([0-9a-f]{8})/")


def _scan(trace, begin_key, end_key, begin_len, profile=frozenset(), profiles=None):
    """Count trace lines between marker lines, streaming. A marker line is one whose PC field
    (``[cs_base/PC/flags/cflags]``) equals the marker's address. Regions whose index is in
    ``profile`` also get a Counter of their PCs in ``profiles[index]``."""
    counts = []

    def histogram(segment):
        if len(counts) in profile:
            profiles.setdefault(len(counts), collections.Counter()).update(
                int(pc, 16) for pc in _PC.findall(segment))

    open_lines = None  # lines seen since icount_begin's entry, or None outside a region
    tail = b""
    while True:
        data = trace.read(CHUNK)
        if not data:
            break
        data = tail + data
        cut = data.rfind(b"\n") + 1
        data, tail = data[:cut], data[cut:]
        pos = 0
        while True:
            key = end_key if open_lines is not None else begin_key
            hit = _find_pc(data, key, pos)
            if hit < 0:
                if open_lines is not None:
                    open_lines += data.count(b"\n", pos)
                    histogram(data[pos:])
                break
            line_start = data.rfind(b"\n", 0, hit) + 1
            if open_lines is None:
                open_lines = 0
            else:
                open_lines += data.count(b"\n", pos, line_start)
                histogram(data[pos:line_start])
                # lines since begin's entry = begin body + region + the branch into icount_end
                counts.append(open_lines - begin_len - 1)
                open_lines = None
            pos = data.find(b"\n", hit) + 1
            if open_lines is not None:
                open_lines = 1  # the marker's entry line itself
    if open_lines is not None:
        raise FirmwareError("icount: a region was opened with icount_begin and never closed", 2)
    return counts


def _find_pc(data, key, pos):
    while True:
        hit = data.find(key, pos)
        if hit < 0 or (hit >= 9 and data[hit - 9:hit - 8] == b"["):
            return hit
        pos = hit + 1


def attribute(elf, pcs):
    """``{function: executed instructions}`` of a PC histogram ``{address: executions}``: each
    address goes to the innermost function ``addr2line -a -f -i`` names for it (an inlined function
    counts as itself; ``??`` without line information)."""
    addresses = sorted(pcs)
    out = subprocess.run(["arm-none-eabi-addr2line", "-a", "-f", "-i", "-e", str(elf)]
                         + [f"{a:#x}" for a in addresses],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    # per address: its "0x..." line, then (function, file:line) pairs, innermost first
    innermost = {}
    current = None
    for line in out:
        if re.fullmatch(r"0x[0-9a-f]+", line):
            current = int(line, 16)
        elif current is not None and current not in innermost:
            innermost[current] = line
    result = collections.Counter()
    for address in addresses:
        result[innermost.get(address, "??")] += pcs[address]
    return result
