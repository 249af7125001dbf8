"""Installed as ``nlp_guard_models``: the shipped model directories, as package data
(``nlp_guard.model.find_model_dir`` finds them with ``importlib.resources``)."""
