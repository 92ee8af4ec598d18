# PoseReview image: one image for the web server (gunicorn), the Celery workers and beat.
# Build: docker compose build   Run: docker compose up -d   (see docker-compose.yml and .env.example)

# -- build stage: a virtualenv with the pinned dependencies (compilers only live here) ------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# torch is pinned as a CPU build (+cpu), which lives on PyTorch's own index, not on PyPI.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r /tmp/requirements.txt

# -- runtime stage -----------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=webapp.settings \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/var/staticfiles
RUN useradd --create-home --uid 1000 posereview
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=posereview:posereview . /app
RUN mkdir -p /data/media /data/import /app/var/staticfiles \
 && chown -R posereview:posereview /data /app/var
USER posereview
EXPOSE 8000
# docker-compose.yml gives each service its own command; this default runs the web server.
CMD ["gunicorn", "webapp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
