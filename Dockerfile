# syntax=docker/dockerfile:1
# One image with both programs; the Helm chart picks the command per component:
#   node /app/dist/aggregator/server.js   aggregator (Deployment; the default command)
#   node /app/dist/agent/main.js          agent (DaemonSet)
#
#   docker build -t registry.example.com/k8s-logs:0.1.0 .
#
# Build stage: full dependencies (TypeScript, and the `node` dev dependency that npm scripts
# use), compile to dist/, then drop the dev dependencies so only runtime modules are copied.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY agent ./agent
COPY aggregator ./aggregator
COPY ui ./ui
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: the same Node base, compiled code and production modules only, owned by
# root and read-only for the unprivileged `node` user (uid 1000) the image runs as. The
# chart adds a read-only root file system; the agent's pods run as uid 0 to read the
# node's root-owned log files.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/ui/dist ./ui/dist
USER 1000:1000
# 8080: aggregator API, ingest and /metrics; 2020: agent /metrics and /healthz.
EXPOSE 8080 2020
CMD ["node", "/app/dist/aggregator/server.js"]
