# Multi-stage: GOV.UK Frontend from npm, the councils' stylesheet (Sass) and the Welsh catalogue
# compiled in build stages; the runtime image is slim, has no compilers or npm, and runs as a
# non-root user.
FROM node:22-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY broker/web/styles ./broker/web/styles
RUN mkdir -p broker/web/static && node_modules/.bin/sass --load-path=node_modules --style=compressed \
    --no-source-map broker/web/styles/councils.scss broker/web/static/councils.min.css

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md babel.cfg ./
COPY broker ./broker
COPY --from=assets /src/broker/web/static/councils.min.css ./broker/web/static/
# The .mo and .css files are git-ignored build output; the wheel's package data picks them up here.
RUN pip install --no-cache-dir "babel>=2.12" \
 && pybabel compile -d broker/web/translations \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 broker
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=assets /src/node_modules/govuk-frontend/dist/govuk /app/govuk-frontend
ENV BROKER_GOVUK_FRONTEND=/app/govuk-frontend \
    PYTHONUNBUFFERED=1
COPY config ./config
# docker-compose's volumes mount here and take this ownership: var/demo (demo keys), var/tls (the
# stack's CA bundle), var/config (the stack's configuration).
RUN mkdir -p var/demo var/tls var/config && chown -R broker:broker /app
USER broker
EXPOSE 8000
# Liveness only (/healthz): a broker that cannot reach Redis is not ready (/readyz) but is not
# restarted for it either.
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["broker", "serve", "--host", "0.0.0.0", "--port", "8000"]
