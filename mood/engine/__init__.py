"""The engine wing: decode (`audio`) -> each model's front end (`features`) -> networks
(`models`) -> verified weights and typed manifests (`weights`, `manifest`) -> `inference`."""
