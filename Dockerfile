# Lienhop API image: `docker compose up` (see docker-compose.yml and docs/usage.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIENHOP_HOME=/data

WORKDIR /srv/lienhop

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md alembic.ini ./
COPY schemas schemas
COPY store store
COPY harvesters harvesters
COPY search search
COPY indexer indexer
COPY app app
# Editable, so the Alembic migration scripts are used from the source tree as in development.
RUN pip install --no-cache-dir -e '.[postgres]'

RUN useradd --system --home /data lienhop && mkdir -p /data && chown lienhop /data
USER lienhop
VOLUME ["/data"]
EXPOSE 8000

CMD ["lienhop", "serve", "--host", "0.0.0.0", "--port", "8000"]
