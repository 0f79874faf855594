# One image for every role of the portal: web (gunicorn), Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_VAR_DIR=/var/lib/portal

WORKDIR /app
# The project runs from its source folder (templates/ and static/ sit next to the
# packages), so it is installed in editable mode.
COPY . /app
RUN pip install -e . \
    && useradd --system --home-dir /var/lib/portal --create-home portal \
    && SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
       CELERY_BROKER_URL=redis://unused python manage.py collectstatic --noinput \
    && chown -R portal /var/lib/portal

USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
