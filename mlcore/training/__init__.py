"""Training: the built-in keypoint model and the form classifiers.

Both entry points take plain COCO dicts, write a model directory (see
``mlcore.modeldir``) and report progress through ``progress(fraction, message)``
so a Celery task can copy it onto its Job row.
"""
