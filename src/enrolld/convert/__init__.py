"""Offline conversion of dlib's public-domain face-recognition ResNet into TFLite models.

`dlib_dat` reads dlib's serialization, `resnet_numpy` is the numpy reference forward pass,
`to_tflite` (needs TensorFlow, converter machines only) writes the committed models.
"""
