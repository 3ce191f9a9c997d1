"""One module per kind of ensemble member, each a :class:`mood.training.cv.Member`: networks
trained from scratch on spectrograms (`scratch`), the fine-tuned pretrained musicnn (`musicnn`),
and the ensemble's combination of the members' runs (`ensemble`)."""
