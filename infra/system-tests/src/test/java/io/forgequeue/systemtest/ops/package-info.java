/**
 * Checks of the operations files: Prometheus config and alert rules, Grafana dashboard, Kubernetes manifests, the
 * Compose file, the container images the build defines, and the local scripts of infra/local/ (up.sh, down.sh and
 * their functions).
 */
package io.forgequeue.systemtest.ops;
