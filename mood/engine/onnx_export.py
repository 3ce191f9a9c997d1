"""Export a mood network to ONNX: what :func:`mood.engine.torch_weights.save_network` ships beside each `.pt`.

The network is exported in eval mode (so musicnn's front end traces its eval shortcut,
``_FrequencyMaxBlock._eval_forward``) at ``ONNX_OPSET`` with a dynamic batch axis, by the
TorchScript exporter (the dynamo exporter cannot lower musicnn's ``Pad`` to opset 17).
:mod:`mood.engine.onnx_check` checks an export against its torch module and exports the
networks already shipped.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.jit._trace import TracerWarning

from mood.engine.features import FrontEnd
from mood.engine.serving import ONNX_INPUT, ONNX_OUTPUT

ONNX_OPSET = 17
EXPORT_BATCH = 2  # windows in the example input the graph is traced with


def export_network(
    network: nn.Module, front_end: FrontEnd, path: Path, outputs: tuple[str, ...] = (ONNX_OUTPUT,)
) -> Path:
    """Write ``network``, traced in eval mode, as ONNX to ``path``: input ``(batch, n_mels, window_frames)``,
    its outputs named ``outputs`` in order (a mood network's logits; the hybrid's backbones name
    theirs; a graph shared by an ensemble's members has one per member).

    The network's training mode is restored afterwards. The file is written aside and renamed
    into place, so an export cut short never leaves a torn file at ``path``. The tracer's notes
    (constant shapes, the LSTM's batch size: harmless here, the tests compare every export with
    its torch module) are not printed.
    """
    was_training = network.training
    network.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    example = torch.zeros(EXPORT_BATCH, front_end.n_mels, front_end.window_frames)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            warnings.filterwarnings("ignore", message=".*batch.size other than 1", category=UserWarning)
            torch.onnx.export(
                network,
                (example,),
                str(partial),
                input_names=[ONNX_INPUT],
                output_names=list(outputs),
                dynamic_axes={ONNX_INPUT: {0: "batch"}} | {output: {0: "batch"} for output in outputs},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.replace(partial, path)
    finally:
        network.train(was_training)
        partial.unlink(missing_ok=True)
    return path
