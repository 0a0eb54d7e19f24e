# syntax=docker/dockerfile:1
#
# One image for every Thongthin service; the service is the argument:
#
#   docker run thongthin:dev plans            # python -m shared.runner plans
#   docker run --entrypoint python thongthin:dev -m shared.migrate
#
# docker-compose.yml builds this once and runs it as plans, assessments, notifications, reporting,
# gateway and the one-shot migrate job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed numeric uid/gid so that orchestrators enforcing "runAsNonRoot" can verify it.
RUN groupadd --system --gid 10001 thongthin \
 && useradd --system --uid 10001 --gid thongthin --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin thongthin

WORKDIR /app

# Dependencies first, in their own layer, so that a source change does not reinstall them.
# requirements.lock (the full pinned transitive set) is used when present; the "*" lets the COPY
# succeed without it, and then the pins of pyproject.toml's [project] dependencies are installed
# instead. Every dependency ships a manylinux wheel, so no compiler is needed.
COPY pyproject.toml requirements.lock* ./
RUN if [ -f requirements.lock ]; then \
        pip install -r requirements.lock; \
    else \
        python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
            > /tmp/requirements.txt \
        && pip install -r /tmp/requirements.txt \
        && rm /tmp/requirements.txt; \
    fi

COPY . .

# Editable on purpose: shared.config.REPO_ROOT is derived from shared/__file__, and alembic's
# script directories (services/*/migrations, incl. script.py.mako), the notification templates,
# the contract schemas and data/reference/ are read relative to it. A regular install would put
# the packages in site-packages without those files. Editable keeps them importable from /app.
RUN pip install --no-deps -e . \
 && mkdir -p /app/var \
 && chown thongthin:thongthin /app/var

# The source stays root-owned (read-only for the service); only var/ (SQLite fallback, scratch)
# is writable.
USER 10001:10001

# Health checks live in docker-compose.yml, one per service (each has its own port).
ENTRYPOINT ["python", "-m", "shared.runner"]
# Without a service name the runner would just fail on argparse; print the usage instead.
CMD ["--help"]
