"""The shipped model at run time: model.tflite through LiteRT, checked against its seal
(`classifier`), with native start-up lines kept off the terminal (`native_stderr`)."""
