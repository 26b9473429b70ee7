"""Model development for moodwire: training, interpolation and the quality checks.

This package holds what makes and judges the models, not what serves them: the emotion
model's fine-tuning (``training.emotion`` and the steps it calls), weight interpolation
(``training.interpolation``), the data set readers (GoEmotions, TweetEval), the macro-F1
helpers and ``moodwire quality``'s hand-written checks (``training/checks/``).

Nothing in the serving path (``inference/``, ``serve_app/``, ``batch_jobs/``, ``storage/``)
imports it; it imports ``inference`` freely. The ``moodwire`` CLI imports it only inside the
commands that need it, so ``moodwire --help`` loads no torch.
"""
