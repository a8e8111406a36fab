# Multi-stage: GOV.UK Frontend from npm, the pages' stylesheets and script (Sass, esbuild;
# fingerprinted and precompressed by scripts/build-assets.mjs) and the Welsh catalogue compiled in
# build stages; the runtime image is slim, has no compilers or npm, and runs as a non-root user.
FROM node:22-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build-assets.mjs ./scripts/
COPY broker/web/styles ./broker/web/styles
COPY broker/web/scripts ./broker/web/scripts
RUN node scripts/build-assets.mjs broker/web/static

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md babel.cfg ./
COPY broker ./broker
COPY --from=assets /src/broker/web/static ./broker/web/static
# The .mo and the built assets are git-ignored build output; the wheel's package data picks them
# up here.
RUN pip install --no-cache-dir "babel>=2.12" \
 && pybabel compile -d broker/web/translations \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

# docker-compose's nginx (`target: edge`): the same fingerprinted files with their .gz, served from
# disk (deploy/nginx/broker.conf). Not the default target: that is the broker's image, below.
FROM nginx:1.27 AS edge
COPY --from=assets /src/broker/web/static /usr/share/nginx/broker/assets

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
