# Parley's container image: `docker build -t parley .` (see docs/operations.md, "Deploying").
#
# Two stages: `build` compiles TypeScript and bundles the web client with the dev dependencies;
# the runtime stage holds the production dependencies and the built dist/ folders only (the
# server's dist/ includes the Redis Lua scripts, copied there by the build). The runtime runs as a numeric non-root user, so Kubernetes
# can verify `runAsNonRoot`, and writes nothing to its filesystem: a read-only root filesystem
# works (Kubernetes mounts an emptyDir at /tmp for whatever a library might put there).

ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/server/package.json packages/server/
COPY packages/sdk/package.json packages/sdk/
COPY apps/web/package.json apps/web/
RUN npm ci --no-audit --no-fund
COPY packages/protocol/ packages/protocol/
COPY packages/server/ packages/server/
COPY packages/sdk/ packages/sdk/
COPY apps/web/ apps/web/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/server/package.json packages/server/
COPY packages/sdk/package.json packages/sdk/
COPY apps/web/package.json apps/web/
# Production dependencies of both workspaces; the workspaces themselves are linked, not copied.
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force \
    && rm -rf /root/.npm /tmp/*
COPY --from=build /app/packages/protocol/dist/ packages/protocol/dist/
COPY --from=build /app/packages/server/dist/ packages/server/dist/
# The web client, served at / (the server finds it beside itself: WEB_APP_DIR's default).
COPY --from=build /app/apps/web/dist/ apps/web/dist/
# The image's `node` user (uid and gid 1000), by number: `runAsNonRoot` cannot check a name.
USER 1000:1000
EXPOSE 8080
# main.ts drains on SIGTERM: readiness fails, WebSockets close with 1012, requests in flight
# finish, then the process exits (at the latest after SHUTDOWN_TIMEOUT_MS, 25 s by default).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, so node is PID 1 and receives SIGTERM itself (no shell in between).
CMD ["node", "packages/server/dist/main.js"]
