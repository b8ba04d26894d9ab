# Cocreate in a container: the wheel built from this checkout, run as a non-root user, the
# database on the volume /data.
#   docker build -t cocreate .
#   docker run -d --name cocreate -e DISCORD_TOKEN -v cocreate-data:/data cocreate

# -- build: only the wheel (what pip installs is what CI tests outside the source tree)
FROM python:3.11-slim AS build
WORKDIR /src
# README.md is the package's long description (pyproject.toml reads it).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# -- run
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COCREATE_DATABASE_PATH=/data/cocreate.db
# Fonts for charts of labels in every script members write (Latin, Greek, Cyrillic,
# Arabic, Hebrew, Devanagari, Thai and more from Noto; Chinese, Japanese and Korean from
# Noto CJK; emoji in one colour from Symbola, as matplotlib cannot draw colour emoji).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-core fonts-noto-cjk fonts-symbola \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/ /tmp/dist/
RUN pip install /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin cocreate \
    && mkdir /data \
    && chown cocreate:cocreate /data
# Numeric, so a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
# The database, its WAL files and the backups taken before migrations (data/backups).
WORKDIR /data
VOLUME ["/data"]
# `cocreate run` stops cleanly on SIGTERM (handlers finish, queued writes commit, exit 0);
# the exec form below makes cocreate PID 1, so `docker stop` reaches it directly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cocreate"]
CMD ["run"]
