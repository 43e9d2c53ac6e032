"""Benchmark and accuracy of the fixed-point MFCC on the FSDD test split (300 recordings).

Prints, in one run:
- frames per second of fixedrnn's batch MFCC (q15 and q31), single-threaded, against calling the
  cmsisdsp wrapper (``arm_mfcc_q15`` / ``arm_mfcc_q31``, single-threaded) frame by frame, and their
  ratio (the headline); the runs of the two alternate, best of ``--repeat``; every output is also
  checked equal (0 LSB) to the wrapper's;
- separately, the multi-threaded batch path (``parallel=True``, numba's threads) and its ratio;
- the SNR of the q15 (q8.7, i.e. value/128) and q31 (value/2**23) MFCC against the float
  ``cmsisdsp.arm_mfcc_f32`` of the same frames (float tables from cmsisdsp's helpers), in dB:
  10·log10(Σ ref² / Σ (fixed − ref)²) over every coefficient of every frame (frames whose float
  MFCC is not finite, i.e. all-zero frames, are left out).

Usage: python tools/bench_mfcc.py [--fsdd DIR] [--repeat 7]
"""

import argparse
import sys
import time

import numpy as np


def best_times(fns, repeat):
    """Best wall time of each of ``fns`` over ``repeat`` rounds, the functions taking turns in each
    round (so a burst of load on a shared machine hits all of them alike); and their last results."""
    times = [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [min(t) for t in times], results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", default=None, help="FSDD folder (default: ../shared/data/fsdd)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs; the best is reported")
    args = parser.parse_args(argv)

    import cmsisdsp
    import cmsisdsp.datatype as dt
    import cmsisdsp.mfcc as cmsis_mfcc
    import scipy.signal

    from fixedrnn import mfcc as M
    from fixedrnn.fsdd import list_recordings

    config = M.MfccConfig()
    front_end = M.MfccFrontEnd(config)
    recordings = list_recordings(args.fsdd, split="test")
    frames16 = np.concatenate([M.frames(M.read_wav(r.path, config), config) for r in recordings])
    frames31 = frames16.astype(np.int32) << 16
    n_frames, n = frames16.shape
    print(f"FSDD test split: {len(recordings)} recordings, {n_frames} frames of {n} samples "
          f"(hop {config.hop}, {config.n_mels} mels, {config.n_mfcc} MFCC)")

    t = front_end.tables
    inst15 = cmsisdsp.arm_mfcc_instance_q15()
    cmsisdsp.arm_mfcc_init_q15(inst15, n, config.n_mels, config.n_mfcc, t.dct_q15, t.filter_pos,
                               t.filter_lengths, t.filter_coefs_q15, t.window_q15)
    inst31 = cmsisdsp.arm_mfcc_instance_q31()
    cmsisdsp.arm_mfcc_init_q31(inst31, n, config.n_mels, config.n_mfcc, t.dct_q31, t.filter_pos,
                               t.filter_lengths, t.filter_coefs_q31, t.window_q31)
    tmp15 = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q15, n, 1), dtype=np.int32)
    tmp31 = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q31, n, 1), dtype=np.int32)

    front_end.mfcc_q15(frames16[:2])  # compile / load the numba kernels before timing
    front_end.mfcc_q31(frames31[:2])
    front_end.mfcc_q15(frames16[:2], parallel=True)
    front_end.mfcc_q31(frames31[:2], parallel=True)

    import numba

    rows = []
    exact = True
    for name, ours, ours_mt, theirs in (
        ("q15", lambda: front_end.mfcc_q15(frames16), lambda: front_end.mfcc_q15(frames16, parallel=True),
         lambda: [cmsisdsp.arm_mfcc_q15(inst15, f, tmp15)[1] for f in frames16]),
        ("q31", lambda: front_end.mfcc_q31(frames31), lambda: front_end.mfcc_q31(frames31, parallel=True),
         lambda: [cmsisdsp.arm_mfcc_q31(inst31, f, tmp31)[1] for f in frames31]),
    ):
        (t_ours, t_mt, t_theirs), (out_ours, out_mt, out_theirs) = best_times((ours, ours_mt, theirs),
                                                                               args.repeat)
        same = np.array_equal(out_ours, np.array(out_theirs)) and np.array_equal(out_mt, out_ours)
        exact &= same
        rows.append((name, n_frames / t_ours, n_frames / t_theirs, t_theirs / t_ours, n_frames / t_mt,
                     t_theirs / t_mt, same))

    print(f"\nSingle-threaded (headline), best of {args.repeat} alternating runs:")
    print(f"{'MFCC':6} {'fixedrnn batch':>16} {'cmsisdsp loop':>16} {'ratio':>7}  bit-exact")
    for name, ours, theirs, ratio, _, _, same in rows:
        print(f"{name:6} {ours:>12,.0f} f/s {theirs:>12,.0f} f/s {ratio:>6.2f}x  {'yes' if same else 'NO'}")
    print(f"\nMulti-threaded batch (parallel=True, {numba.get_num_threads()} numba threads; "
          f"the cmsisdsp loop is single-threaded):")
    for name, _, theirs, _, mt, ratio_mt, _ in rows:
        print(f"{name:6} {mt:>12,.0f} f/s {theirs:>12,.0f} f/s {ratio_mt:>6.2f}x")

    # accuracy against the float MFCC
    lengths, positions, coefs = cmsis_mfcc.melFilterMatrix(
        dt.F32, config.fmin, config.fmax, config.n_mels, config.sample_rate, n)
    dct = cmsis_mfcc.dctMatrix(dt.F32, config.n_mfcc, config.n_mels)
    window = getattr(scipy.signal.windows, config.window)(n, sym=False).astype(np.float32)
    inst_f32 = cmsisdsp.arm_mfcc_instance_f32()
    cmsisdsp.arm_mfcc_init_f32(inst_f32, n, config.n_mels, config.n_mfcc, dct, positions, lengths,
                               coefs, window)
    tmp_f32 = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.F32, n, 1), dtype=np.float32)
    ref = np.array([cmsisdsp.arm_mfcc_f32(inst_f32, (f / 32768.0).astype(np.float32), tmp_f32)
                    for f in frames16], dtype=np.float64)
    keep = np.all(np.isfinite(ref), axis=1)
    q15 = front_end.mfcc_q15(frames16).astype(np.float64) / 2**7
    q31 = front_end.mfcc_q31(frames31).astype(np.float64) / 2**23
    print(f"\nSNR against cmsisdsp.arm_mfcc_f32 ({np.count_nonzero(keep)} frames with a finite float MFCC):")
    for name, values in (("q15 (q8.7)", q15), ("q31 (q8.23)", q31)):
        err = values[keep] - ref[keep]
        snr = 10 * np.log10(np.sum(ref[keep] ** 2) / np.sum(err**2))
        print(f"  {name:12} SNR {snr:6.2f} dB, max |error| {np.abs(err).max():.4f}, "
              f"RMS error {np.sqrt(np.mean(err**2)):.4f} (RMS of the float MFCC {np.sqrt(np.mean(ref[keep]**2)):.3f})")
        per_coef = 10 * np.log10(np.sum(ref[keep] ** 2, axis=0) / np.sum(err**2, axis=0))
        print("    per coefficient (dB): " + " ".join(f"{v:.1f}" for v in per_coef))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
