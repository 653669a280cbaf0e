"""importers: networks from other formats into ``eiesim.network`` models.

* ``onnx``: ONNX files (reader, graph walker, one handler per operator, constant folding)
  and the exporter back to ONNX.
* ``caffe``: Caffe prototxt and the Deep-Compression authors' compressed .net files.
* ``agreement``: how far a compressed model drifted from the model it came from.
"""
