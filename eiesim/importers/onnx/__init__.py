"""importers.onnx: ONNX models in (``walker``, ``ops``, ``fold``) and out (``export``); docs/onnx.md."""
