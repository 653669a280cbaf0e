"""importers.caffe: Caffe network definitions (``prototxt``) and Deep-Compression .net files (``deep_compression``)."""
