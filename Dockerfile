# NELM Pathways: CDS Hooks 2.0 service + SMART app, served by gunicorn.
#   docker build -t nelm-pathways .
#   docker compose up          (service + PostgreSQL; see docker-compose.yml and README.md)
# The image runs in production mode: it needs NELM_DATABASE_URL, NELM_TRUST_FILE, NELM_SECRET_KEY
# and NELM_ID_HASH_KEY (README.md, "Configuration").

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/constraints.txt ./requirements/constraints.txt
COPY nelm_fhir ./nelm_fhir
COPY cds_hooks ./cds_hooks
# Wheels for the product and every dependency (at the versions CI tested: the constraints file), so the
# runtime stage needs no compiler or cache.
# The text reader (medspaCy, the optional `text` extra) is part of the image; NELM_TEXT_READER=off disables it.
RUN pip wheel --constraint requirements/constraints.txt --wheel-dir /wheels '.[text]'

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 nelm \
 && useradd --system --uid 10001 --gid nelm --home-dir /app --no-create-home --shell /usr/sbin/nologin nelm
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels 'nelm-pathways[text]' && rm -rf /wheels
# Reviewed terminology, shipped trust examples, demo patients and the gunicorn settings.
COPY mappings/ /app/mappings/
COPY config/ /app/config/
COPY tests/vignettes/ /app/demo-patients/
COPY gunicorn.conf.py /app/gunicorn.conf.py
RUN mkdir -p /app/instance /tmp/nelm-prometheus \
 && chown nelm:nelm /app/instance /tmp/nelm-prometheus
ENV NELM_ENVIRONMENT=production \
    NELM_MAPPINGS_DIR=/app/mappings \
    NELM_DEMO_DIR=/app/demo-patients \
    NELM_DATABASE_URL=sqlite:////app/instance/nelm.sqlite3 \
    NELM_BIND=0.0.0.0:8080 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/nelm-prometheus
USER nelm
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
# Migrations first (idempotent; serialised across replicas by a PostgreSQL advisory lock), then gunicorn.
CMD ["sh", "-c", "nelm-cds db upgrade && exec gunicorn --config /app/gunicorn.conf.py cds_hooks.wsgi:app"]
