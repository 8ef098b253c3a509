"""IO binding: run a session with inputs and outputs on the session's device."""

from __future__ import annotations

import contextlib
import threading

from .providers import GPU_PROVIDERS

_NP_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(bool)": "bool",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(double)": "float64"}


class BoundRunner:
    """Runs an ``onnxruntime.InferenceSession`` with IO binding.

    ``run(feed)`` binds each input (a numpy array is converted to the dtype the graph
    declares, e.g. float32 -> float16 for an fp16 graph, then bound directly on the CPU or
    copied to the device once; an ``OrtValue`` from :meth:`upload` is bound as it is, no
    copy), binds every output on the session's device, runs, and copies each output back
    once. Results are the arrays ``session.run(None, feed)`` returns, in output order.

    device: ``"cpu"`` or ``"cuda"``; by default "cuda" when the session's first provider is
        the CUDA or TensorRT EP, else "cpu". device_id: by default the provider's
        ``device_id`` option (0).

    Thread safety: every call makes its own IOBinding (IOBinding objects are not
    thread-safe), so one runner may be called from several threads at once, like
    ``session.run``; OrtValues from :meth:`upload` are read-only and may be shared.
    """

    def __init__(self, session, device: str | None = None, device_id: int | None = None,
                 cpu_inputs: tuple[str, ...] = ()):
        self.session = session
        # Inputs that stay in host memory: values the provider reads on the host anyway (the
        # pads of Pad, the scale that sizes Resize), so no upload and no copy back.
        self.cpu_inputs = frozenset(cpu_inputs)
        providers = session.get_providers()
        first = providers[0] if providers else "CPUExecutionProvider"
        self.device = device or ("cuda" if first in GPU_PROVIDERS else "cpu")
        if device_id is None:
            opts = session.get_provider_options().get(first, {}) if hasattr(session, "get_provider_options") else {}
            device_id = int(opts.get("device_id", 0) or 0)
        self.device_id = int(device_id)
        self.input_dtypes = {i.name: _NP_TYPES.get(i.type) for i in session.get_inputs()}
        self.output_names = [o.name for o in session.get_outputs()]

    def _host(self, name: str, arr):
        import numpy as np

        if name not in self.input_dtypes:
            raise KeyError(f"the graph has no input {name!r} (inputs: {list(self.input_dtypes)})")
        return np.ascontiguousarray(arr, dtype=self.input_dtypes[name])

    def upload(self, arr, name: str | None = None):
        """Copy ``arr`` (numpy) to the session's device once and return the ``OrtValue``;
        bind it in several :meth:`run` calls (e.g. a source frame used by two pairs). With
        ``name`` the array is first converted to the dtype of that graph input."""
        import numpy as np
        import onnxruntime as ort

        a = self._host(name, arr) if name else np.ascontiguousarray(arr)
        return ort.OrtValue.ortvalue_from_numpy(a, self.device, self.device_id)

    def run(self, feed: dict, to_host: bool = True, outputs: dict | None = None) -> list:
        """Run once. feed: {input name: numpy array or OrtValue}. Returns a list of numpy
        arrays in the session's output order, or with ``to_host=False`` the outputs as
        ``OrtValue``s left on the session's device (inputs for another run). ``outputs``:
        {output name: OrtValue} written in place; with it the call returns an empty list
        (outputs not named there are computed and dropped). Raises
        KeyError for an unknown input name, TypeError for an OrtValue of the wrong element
        type, and what ORT raises."""
        import onnxruntime as ort

        binding = self.session.io_binding()
        keep = []  # host arrays must outlive the run
        for name, value in feed.items():
            if isinstance(value, ort.OrtValue):
                want = self.input_dtypes.get(name)
                if name not in self.input_dtypes:
                    raise KeyError(f"the graph has no input {name!r} (inputs: {list(self.input_dtypes)})")
                got = _NP_TYPES.get(value.data_type())
                if got != want:
                    raise TypeError(f"input {name!r} is {want}, the OrtValue holds {got}")
                binding.bind_ortvalue_input(name, value)
                continue
            arr = self._host(name, value)
            if self.device == "cpu" or name in self.cpu_inputs:
                keep.append(arr)
                binding.bind_cpu_input(name, arr)
            else:
                dev = ort.OrtValue.ortvalue_from_numpy(arr, self.device, self.device_id)
                keep.append(dev)
                binding.bind_ortvalue_input(name, dev)
        outputs = outputs or {}
        for name in self.output_names:
            if name in outputs:
                binding.bind_ortvalue_output(name, outputs[name])
            else:
                binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(binding)
        if outputs:
            return []
        return binding.copy_outputs_to_cpu() if to_host else binding.get_outputs()


class Gate:
    """Shared/exclusive gate around an engine's device work. A CUDA graph is captured in
    ONNX Runtime's global capture mode, where any other thread's upload or kernel launch on
    the device would break the capture: capture takes the gate exclusively, every other
    device call shares it. A waiting exclusive holder blocks new shared ones (no starvation)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self):
        self._enter(False)
        try:
            yield
        finally:
            self._leave(False)

    @contextlib.contextmanager
    def exclusive(self):
        self._enter(True)
        try:
            yield
        finally:
            self._leave(True)

    def _enter(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._waiting += 1
                self._cond.wait_for(lambda: not self._exclusive and not self._shared)
                self._waiting -= 1
                self._exclusive = True
            else:
                self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
                self._shared += 1

    def _leave(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._exclusive = False
            else:
                self._shared -= 1
            self._cond.notify_all()


class GraphRunner:
    """Runs a static-shape session whose inputs and outputs stay bound to fixed device
    buffers, what a CUDA graph needs (the CUDA provider's ``enable_cuda_graph=1``: ONNX
    Runtime captures the graph during the warm-up runs, later runs replay it).

    shapes: {input name: shape} of every input the graph has (and of any output whose
        shape the session does not fix); the buffers are allocated once, of the dtypes the
        graph declares. copier: a :class:`BoundRunner` of a graph
        copying its input ``x`` to its output ``y`` on the device (:func:`graphs.copy_model`):
        an ``OrtValue`` input is copied into the fixed buffer with it, a numpy input with
        ``OrtValue.update_inplace``.

    ``run(feed)`` copies the inputs in, runs and returns the outputs as numpy arrays, like
    :meth:`BoundRunner.run`. Every run happens on one thread of the runner's own: ONNX
    Runtime keeps a captured CUDA graph per calling thread, and a replay from another thread
    returned without running (docs/gpu.md, "Second run on an H200"). Calls from several
    threads queue for that thread, so an engine keeps one runner per stream. Raises
    ValueError for an input of another shape than bound.
    """

    def __init__(self, session, shapes: dict, copier: "BoundRunner", device: str | None = None,
                 device_id: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        bound = BoundRunner(session, device, device_id)
        self.session, self.device, self.device_id = session, bound.device, bound.device_id
        self.copier, self.output_names, self.dtypes = copier, bound.output_names, bound.input_dtypes
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="vsvfi-graph")
        self._thread.submit(self._bind, shapes).result()

    def _bind(self, shapes: dict) -> None:
        import numpy as np
        import onnxruntime as ort

        self.thread_id = threading.get_ident()
        self.inputs = {name: ort.OrtValue.ortvalue_from_shape_and_type(
            tuple(shapes[name]), np.dtype(dtype), self.device, self.device_id)
            for name, dtype in self.dtypes.items()}
        self.binding = self.session.io_binding()
        for name, value in self.inputs.items():
            self.binding.bind_ortvalue_input(name, value)
        self.outputs = []
        for out in self.session.get_outputs():
            self.outputs.append(ort.OrtValue.ortvalue_from_shape_and_type(
                tuple(shapes.get(out.name, out.shape)), np.dtype(_NP_TYPES[out.type]), self.device, self.device_id))
            self.binding.bind_ortvalue_output(out.name, self.outputs[-1])

    def run(self, feed: dict, to_host: bool = True) -> list:
        if not to_host:
            raise ValueError("a GraphRunner's outputs are overwritten by its next run: use to_host=True")
        return self._thread.submit(self._run, feed).result()

    def _run(self, feed: dict) -> list:
        import numpy as np
        import onnxruntime as ort

        for name, value in feed.items():
            buf = self.inputs[name]
            shape = tuple(value.shape() if isinstance(value, ort.OrtValue) else value.shape)
            if shape != tuple(buf.shape()):
                raise ValueError(f"input {name!r} has shape {shape}, the graph is bound to {tuple(buf.shape())}")
            if isinstance(value, ort.OrtValue):
                self.copier.run({"x": value}, outputs={"y": buf})
            else:
                buf.update_inplace(np.ascontiguousarray(value, dtype=self.dtypes[name]))
        self.session.run_with_iobinding(self.binding)
        # a device buffer's numpy() is a copy, a host buffer's a view the next run overwrites
        return [o.numpy().copy() if self.device == "cpu" else o.numpy() for o in self.outputs]

    def close(self) -> None:
        """Stop the runner's thread (after the calls queued)."""
        self._thread.shutdown(wait=True)
