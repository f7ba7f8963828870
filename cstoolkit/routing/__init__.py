"""Learned routing: models trained on the store's own history, evaluated before use.

* :mod:`.labels`: what people finally decided (group, priority, topic tags, language), cst's
  own writes left out;
* :mod:`.metrics`: per-class precision/recall/F1, macro-F1, confusion, coverage and accuracy
  at confidence floors (plain Python: the figures are checked by hand in the tests);
* :mod:`.learn`: features (TF-IDF of words and character n-grams, plus channel, language,
  organisation, plan and custom fields) and the linear models (scikit-learn, the optional
  ``cstoolkit[ml]`` extra, imported only here, only when training or predicting);
* :mod:`.modelfile`: the model file in the workspace and its metadata, verified before load;
* :mod:`.evaluate`: time-ordered validation against the majority class and the recipes;
* :mod:`.service`: the workflow the commands call (train, evaluate, predict, explain, status).

No ticket text leaves the machine: nothing here opens a network connection.
"""
