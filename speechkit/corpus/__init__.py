"""The built-in default corpus, made offline: pools of synthetic and recorded speech, simulated rooms and
noise (drawn from on the fly in training), and fixed validation and test sets. See default_corpus.py."""
