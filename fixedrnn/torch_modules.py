"""What fixedrnn accepts of PyTorch's recurrent modules, and their parameters as the converter wants them.

Accepted: one ``nn.LSTM`` or ``nn.RNN`` (tanh) layer, one direction, no LSTM projection, with or
without biases, ``batch_first`` either way; a ``nn.Linear`` head whose ``in_features`` is the cell's
``hidden_size``. Anything else is refused with one line naming the argument and the feature
(:class:`fixedrnn.errors.FixedRnnError`). ``dropout`` only acts between layers, so with one layer it
changes nothing and is ignored.

PyTorch's layout (``torch.nn.LSTM`` docs): ``weight_ih_l0`` ``[G·H, I]``, ``weight_hh_l0``
``[G·H, H]``, ``bias_ih_l0`` and ``bias_hh_l0`` ``[G·H]``, the G = 4 LSTM gates stacked in the order
input, forget, cell (g), output — the order of :class:`fixedrnn.convert.FloatLstm`; G = 1 for
``nn.RNN``. PyTorch adds the two biases at every step; the converter takes their sum, formed in
float64 from the float32 parameters (exact: both are float32 values of similar magnitude), before
any rounding.

A ``state_dict`` (a mapping of names to tensors or arrays, as ``module.state_dict()`` gives) becomes
the same modules through :func:`modules_from_state_dict`, which refuses by key name what the modules
would refuse (``weight_ih_l1``: several layers; ``*_reverse``: bidirectional; ``weight_hr_l0``:
projection; one bias of the two).

PyTorch is imported inside the functions that need it (the ``train`` extra).
"""

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from fixedrnn.convert import FloatHead, FloatLstm, FloatRnn
from fixedrnn.errors import FixedRnnError

#: Gates per cell kind (PyTorch stacks them on the first weight axis).
GATES = {"lstm": 4, "rnn": 1}


@dataclass(frozen=True)
class TorchCell:
    """A checked single-layer cell: ``kind`` "lstm"|"rnn", ``module`` (the nn.LSTM / nn.RNN),
    ``input_size`` I, ``hidden_size`` H, ``batch_first``, ``bias`` (both biases present)."""

    kind: str
    module: object
    input_size: int
    hidden_size: int
    batch_first: bool
    bias: bool

    def parameter(self, name):
        """The float tensor ``<name>_l0`` (e.g. ``"weight_ih"``), detached."""
        return getattr(self.module, f"{name}_l0").detach()

    def float_params(self):
        """The cell's float64 parameters for :mod:`fixedrnn.convert`: :class:`FloatLstm` (``w_x``
        ``[4, H, I]``, ``w_h`` ``[4, H, H]``, ``b`` ``[4, H]``, gates i, f, g, o) or :class:`FloatRnn`
        (``w_x`` ``[H, I]``, ``w_h`` ``[H, H]``, ``b`` ``[H]``); ``b`` = ``bias_ih + bias_hh`` summed in
        float64 (zeros without biases)."""
        h, i = self.hidden_size, self.input_size
        w_x = _float64(self.parameter("weight_ih"), "recurrent.weight_ih_l0")
        w_h = _float64(self.parameter("weight_hh"), "recurrent.weight_hh_l0")
        if self.bias:
            b = (_float64(self.parameter("bias_ih"), "recurrent.bias_ih_l0")
                 + _float64(self.parameter("bias_hh"), "recurrent.bias_hh_l0"))
        else:
            b = np.zeros(GATES[self.kind] * h)
        if self.kind == "lstm":
            return FloatLstm(w_x=w_x.reshape(4, h, i), w_h=w_h.reshape(4, h, h), b=b.reshape(4, h))
        return FloatRnn(w_x=w_x, w_h=w_h, b=b)


def _float64(tensor, name):
    arr = tensor.cpu().double().numpy()
    if not np.all(np.isfinite(arr)):
        raise FixedRnnError(f"{name}: holds NaN or inf")
    return arr


def inspect_recurrent(recurrent):
    """The :class:`TorchCell` of ``recurrent`` (an ``nn.LSTM`` or tanh ``nn.RNN``, one layer, one
    direction, no projection); ``FixedRnnError`` naming what is not supported otherwise."""
    from torch import nn

    if isinstance(recurrent, nn.LSTM):
        kind = "lstm"
    elif isinstance(recurrent, nn.RNN):
        kind = "rnn"
    else:
        raise FixedRnnError(f"recurrent: {type(recurrent).__name__} is not supported "
                            f"(an nn.LSTM or an nn.RNN with tanh)")
    name = type(recurrent).__name__
    if recurrent.num_layers != 1:
        raise FixedRnnError(f"recurrent: {name} num_layers={recurrent.num_layers} is not supported "
                            f"(one layer: fixedrnn runs one cell)")
    if recurrent.bidirectional:
        raise FixedRnnError(f"recurrent: {name} bidirectional=True is not supported "
                            f"(the device runs forward in time only)")
    if getattr(recurrent, "proj_size", 0):
        raise FixedRnnError(f"recurrent: {name} proj_size={recurrent.proj_size} is not supported "
                            f"(TFLM's int8 LSTM has no projection)")
    if kind == "rnn" and recurrent.nonlinearity != "tanh":
        raise FixedRnnError(f"recurrent: {name} nonlinearity={recurrent.nonlinearity!r} is not supported "
                            f"(tanh only: the int8 TANH op)")
    h, i = recurrent.hidden_size, recurrent.input_size
    for pname, shape in (("weight_ih_l0", (GATES[kind] * h, i)), ("weight_hh_l0", (GATES[kind] * h, h))):
        value = getattr(recurrent, pname, None)
        if value is None or tuple(value.shape) != shape:
            raise FixedRnnError(f"recurrent: {name}.{pname} must have shape {shape}, "
                                f"got {None if value is None else tuple(value.shape)}")
    return TorchCell(kind=kind, module=recurrent, input_size=i, hidden_size=h,
                     batch_first=bool(recurrent.batch_first), bias=bool(recurrent.bias))


def inspect_head(head, hidden_size):
    """``head`` (an ``nn.Linear`` with ``in_features == hidden_size``) as a float64
    :class:`fixedrnn.convert.FloatHead` (``w`` ``[C, H]``, ``b`` ``[C]``, zeros without a bias)."""
    from torch import nn

    if not isinstance(head, nn.Linear):
        raise FixedRnnError(f"head: {type(head).__name__} is not supported (an nn.Linear on the last "
                            f"hidden state)")
    if head.in_features != hidden_size:
        raise FixedRnnError(f"head: in_features={head.in_features} differs from the recurrent layer's "
                            f"hidden_size={hidden_size}")
    w = _float64(head.weight.detach(), "head.weight")
    b = (_float64(head.bias.detach(), "head.bias") if head.bias is not None
         else np.zeros(head.out_features))
    return FloatHead(w=w, b=b)


# --- state_dict ---------------------------------------------------------------------------------

#: PyTorch's recurrent parameter names (after the layer's prefix), e.g. ``bias_hh_l0``, ``weight_hr_l1_reverse``.
_RECURRENT_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)_l[0-9]+(_reverse)?$")
#: The layer suffix of those names: ``_l<k>`` or ``_l<k>_reverse``.
_LAYER_KEY = re.compile(r"_l(?P<layer>[0-9]+)(?P<reverse>_reverse)?$")


def _unique_prefix(keys, suffix, what, given):
    if given is not None:
        if given + suffix not in keys:
            raise FixedRnnError(f"state_dict: no key {given + suffix!r} ({what} prefix {given!r})")
        return given
    found = sorted(k[:-len(suffix)] for k in keys if k.endswith(suffix))
    if len(found) != 1:
        raise FixedRnnError(f"state_dict: {'no' if not found else 'several'} {what} "
                            f"(keys ending in {suffix!r}: {found}); name it with {what.replace(' ', '_')}_prefix")
    return found[0]


def _head_prefix(arrays, recurrent_prefix, given):
    if given is not None:
        if given + "weight" not in arrays:
            raise FixedRnnError(f"state_dict: no key {given + 'weight'!r} (head prefix {given!r})")
        return given
    found = sorted(k[:-len("weight")] for k, v in arrays.items()
                   if k.endswith("weight") and v.ndim == 2 and not k.startswith(recurrent_prefix + "weight_"))
    if len(found) != 1:
        raise FixedRnnError(f"state_dict: {'no' if not found else 'several'} head candidates "
                            f"(2-d keys ending in 'weight': {[p + 'weight' for p in found]}); name it with head_prefix")
    return found[0]


def read_state_dict(state_dict):
    """A state_dict as ``{name: float ndarray}`` (float32 or float64, as stored; other dtypes as
    float64): a mapping (tensors or arrays), or a path to a
    ``.npz`` (NumPy arrays) or ``.pt``/``.pth`` file (``torch.save`` of a state_dict, loaded with
    ``weights_only=True``)."""
    from pathlib import Path

    from fixedrnn.errors import InputFileError

    if isinstance(state_dict, (str, Path)):
        path = Path(state_dict)
        if not path.is_file():
            raise InputFileError(path, "no such file")
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                state_dict = {k: data[k] for k in data.files}
        elif path.suffix in (".pt", ".pth"):
            import torch

            try:
                state_dict = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises many kinds on a bad file
                raise InputFileError(path, f"not a PyTorch state_dict ({type(exc).__name__})") from None
        else:
            raise InputFileError(path, "a state_dict must be a .npz, .pt or .pth file")
    if not hasattr(state_dict, "items"):
        raise FixedRnnError(f"state_dict: expected a mapping of names to tensors, got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        arrays[str(key)] = value if value.dtype in (np.float32, np.float64) else value.astype(np.float64)
    return arrays


def modules_from_state_dict(state_dict, cell=None, recurrent_prefix=None, head_prefix=None,
                            nonlinearity="tanh"):
    """``(recurrent, head)``: a batch-first ``nn.LSTM`` / ``nn.RNN`` and an ``nn.Linear`` holding the
    state_dict's parameters (float32, or float64 when any of them is float64).

    ``state_dict``: see :func:`read_state_dict`. ``cell`` "lstm"|"rnn" or None (from the shapes:
    ``weight_hh_l0`` ``[4H, H]`` is an LSTM, ``[H, H]`` an RNN). ``recurrent_prefix`` /
    ``head_prefix``: the keys' prefixes (e.g. ``"lstm."``, ``"fc."``), found when unique.
    ``nonlinearity``: the RNN's (a state_dict does not record it; "relu" is refused).
    """
    import torch
    from torch import nn

    arrays = read_state_dict(state_dict)
    prefix = _unique_prefix(arrays, "weight_ih_l0", "recurrent", recurrent_prefix)
    own = {k[len(prefix):]: v for k, v in arrays.items()
           if k.startswith(prefix) and _RECURRENT_KEY.match(k[len(prefix):])}
    for key in sorted(own):
        layer = _LAYER_KEY.search(key)
        if layer is not None and layer["reverse"]:
            raise FixedRnnError(f"state_dict: {prefix + key}: bidirectional layers are not supported")
        if key.startswith("weight_hr_"):
            raise FixedRnnError(f"state_dict: {prefix + key}: an LSTM projection (proj_size) is not supported")
        if layer is not None and layer["layer"] != "0":
            raise FixedRnnError(f"state_dict: {prefix + key}: several layers are not supported (one layer)")
    has = [k in own for k in ("bias_ih_l0", "bias_hh_l0")]
    if has[0] != has[1]:
        missing = prefix + ("bias_hh_l0" if has[0] else "bias_ih_l0")
        raise FixedRnnError(f"state_dict: {missing} is missing: PyTorch adds both biases "
                            f"(give both, or neither for bias=False)")
    if "weight_hh_l0" not in own:
        raise FixedRnnError(f"state_dict: {prefix}weight_hh_l0 is missing")
    w_ih, w_hh = own["weight_ih_l0"], own["weight_hh_l0"]
    if w_hh.ndim != 2 or w_ih.ndim != 2:
        raise FixedRnnError(f"state_dict: {prefix}weight_ih_l0 and weight_hh_l0 must be 2-d")
    hidden = w_hh.shape[1]
    kinds = {4 * hidden: "lstm", hidden: "rnn"}
    found = kinds.get(w_hh.shape[0])
    if found is None:
        raise FixedRnnError(f"state_dict: {prefix}weight_hh_l0 has shape {w_hh.shape}: neither an LSTM "
                            f"([4H, H]) nor an RNN ([H, H]) (a GRU's [3H, H] is not supported)")
    if cell is not None and cell != found:
        raise FixedRnnError(f"cell: {cell!r}, but {prefix}weight_hh_l0 of shape {w_hh.shape} is an {found}")
    hp = _head_prefix(arrays, prefix, head_prefix)
    w = arrays[hp + "weight"]
    if w.ndim != 2:
        raise FixedRnnError(f"state_dict: {hp}weight must be 2-d, got shape {w.shape}")
    head_values = {k: arrays[hp + k] for k in ("weight", "bias") if hp + k in arrays}
    wide = any(v.dtype == np.float64 for v in list(own.values()) + list(head_values.values()))
    dtype = torch.float64 if wide else torch.float32
    if found == "lstm":
        recurrent = nn.LSTM(w_ih.shape[1], hidden, bias=has[0], batch_first=True, dtype=dtype)
    else:
        if nonlinearity != "tanh":
            raise FixedRnnError(f"nonlinearity: {nonlinearity!r} is not supported (tanh only: the int8 TANH op)")
        recurrent = nn.RNN(w_ih.shape[1], hidden, bias=has[0], batch_first=True, dtype=dtype)
    head = nn.Linear(w.shape[1], w.shape[0], bias=hp + "bias" in arrays, dtype=dtype)

    def load(module, values, name):
        try:
            module.load_state_dict({k: torch.tensor(v, dtype=dtype) for k, v in values.items()})
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise FixedRnnError(f"state_dict: {name}: {' '.join(s.strip() for s in first[:2])}") from None

    load(recurrent, own, prefix.rstrip(".") or "recurrent")
    load(head, head_values, hp.rstrip(".") or "head")
    return recurrent, head


def describe(cell: TorchCell, head: Optional[object] = None):
    """A one-line description of the modules, for the model's provenance (``meta.*``)."""
    text = (f"nn.{'LSTM' if cell.kind == 'lstm' else 'RNN'}({cell.input_size}, {cell.hidden_size}, "
            f"bias={cell.bias}, batch_first={cell.batch_first})")
    if head is not None:
        text += f" + nn.Linear({head.in_features}, {head.out_features}, bias={head.bias is not None})"
    return text
