"""IO binding: run a session with inputs and outputs on the session's device."""

from __future__ import annotations

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

    def run(self, feed: dict, to_host: bool = True) -> list:
        """Run once. feed: {input name: numpy array or OrtValue}. Returns a list of numpy
        arrays in the session's output order, or with ``to_host=False`` the outputs as
        ``OrtValue``s left on the session's device (inputs for another run). Raises KeyError
        for an unknown input name, TypeError for an OrtValue of the wrong element type, and
        what ORT raises."""
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
        for name in self.output_names:
            binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu() if to_host else binding.get_outputs()
