"""The training wing: the 4Q data set (`dataset`), training and cross-validation (`train`),
out-of-fold runs (`runs`), figures (`evaluation`), calibration (`calibration`), and the
conversion of pretrained weights (`convert_musicnn`)."""
