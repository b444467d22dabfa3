#!/usr/bin/env bash
# Makes a private certificate authority and a server certificate signed by it (PEM files, openssl), for the broker's
# amqps listener and for Forge behind HTTPS. The tests make theirs with it too.
#
# Usage: infra/local/tls-certs.sh ca DIR
#          DIR/ca.pem (give this to every worker and gateway) and DIR/ca.key (keep it on the machine that signs;
#          never copy it to a GPU box). Leaves an existing CA alone.
#        infra/local/tls-certs.sh server DIR NAME HOST [HOST...]
#          DIR/NAME.pem (the certificate, then the CA's: a chain) and DIR/NAME.key (its private key, PKCS#8, mode
#          600), signed by DIR/ca.pem + DIR/ca.key. Each HOST becomes a subjectAltName: an IPv4 address as IP, anything
#          else as DNS. Clients verify the host name they connect to against these names, so list every name and
#          address the server is reached by (e.g. broker.example.com 203.0.113.7). Overwrites an existing NAME.
#
# Environment:
#   FQ_TLS_DAYS  validity of new certificates in days (default 825 for the server, 3650 for the CA)
#   FQ_TLS_CN    the CA's common name (default "Forge Queue private CA")
set -euo pipefail

FQ_SERVICE=tls-certs
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

command -v openssl > /dev/null 2>&1 || fq_die "openssl is missing (Debian/Ubuntu: apt-get install openssl)"

make_ca() {
  local dir=$1
  mkdir -p "$dir"
  if [[ -s $dir/ca.pem && -s $dir/ca.key ]]; then
    fq_log "CA exists: $dir/ca.pem"
    return 0
  fi
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/ca.key" 2> /dev/null)
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "${FQ_TLS_DAYS:-3650}" \
    -subj "/CN=${FQ_TLS_CN:-Forge Queue private CA}" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"
  fq_log "made CA $dir/ca.pem (private key $dir/ca.key: keep it where you sign, never on a GPU box)"
}

make_server() {
  local dir=$1 name=$2
  shift 2
  (($# > 0)) || fq_die "server: name at least one HOST (DNS name or IPv4 address)"
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || fq_die "NAME must be letters, digits, . _ or -, got '$name'"
  [[ -s $dir/ca.pem && -s $dir/ca.key ]] || fq_die "no CA in $dir: run '$0 ca $dir' first"
  local san="" host
  for host in "$@"; do
    if [[ $host =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
      san+="${san:+,}IP:$host"
    elif [[ $host =~ ^[A-Za-z0-9*.-]+$ ]]; then
      san+="${san:+,}DNS:$host"
    else
      fq_die "HOST must be a DNS name or an IPv4 address, got '$host'"
    fi
  done
  local ext
  ext=$(mktemp)
  # shellcheck disable=SC2064
  trap "rm -f '$ext' '$dir/$name.csr'" EXIT
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n%s\n' \
    "extendedKeyUsage=serverAuth" "subjectAltName=$san" > "$ext"
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$name.key" 2> /dev/null)
  openssl req -new -key "$dir/$name.key" -subj "/CN=$1" -out "$dir/$name.csr"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -sha256 \
    -days "${FQ_TLS_DAYS:-825}" -extfile "$ext" -out "$dir/$name.crt" 2> /dev/null
  cat "$dir/$name.crt" "$dir/ca.pem" > "$dir/$name.pem"
  rm -f "$dir/$name.crt"
  fq_log "made $dir/$name.pem (names $san) and $dir/$name.key"
}

case "${1:-}" in
  ca)
    [[ $# -eq 2 ]] || fq_die "usage: $0 ca DIR"
    make_ca "$2"
    ;;
  server)
    [[ $# -ge 4 ]] || fq_die "usage: $0 server DIR NAME HOST [HOST...]"
    make_server "$2" "$3" "${@:4}"
    ;;
  *)
    echo "usage: $0 ca DIR | $0 server DIR NAME HOST [HOST...]" >&2
    exit 2
    ;;
esac
