"""Model development for moodwire: the emotion tower's training and the quality checks.

This package holds what makes and judges the models, not what serves them: the data set
readers (GoEmotions, TweetEval, SemEval-2018 E-c), the rules that split every source into
train, tune and dev parts (``training.splits``, ``training.corpus``), the tower's training
(``training.emotion`` and the steps it calls), calibration (``training.calibration``), the
macro-F1 helpers and ``moodwire quality``'s hand-written checks (``training/checks/``).

Nothing in the serving path (``inference/``, ``serve_app/``, ``batch_jobs/``, ``storage/``)
imports it; it imports ``inference`` freely. The ``moodwire`` CLI imports it only inside the
commands that need it, so ``moodwire --help`` loads no torch.
"""
