#!/bin/sh
# mkcerts.sh DIR - test certificates for the TLS tests, made fresh with the
# openssl CLI (EC P-256: fast). Never committed; DIR is a temp directory.
#
#   ca.crt ca.key          the trusted test CA
#   ca2.crt ca2.key        another CA, trusted by nobody
#   server.crt/.key        CN=localhost, SAN DNS:localhost IP:127.0.0.1 (ca)
#   wrongname.crt/.key     SAN DNS:other.example IP:10.9.9.9 (ca)
#   expired.crt/.key       localhost, valid only in January 2020 (ca)
#   selfsigned.crt/.key    localhost, self-signed
#   client.crt/.key        CN=client1 (ca); client_enc.key: same key, AES, password "secret"
#   client2.crt/.key       CN=client2 (ca)
#   client_soon.crt/.key   CN=client-soon, expires in 5 days (ca)
#   client_bad.crt/.key    CN=intruder (ca2)
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name CN
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 365 -out "$1.crt" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# leaf NAME CN CA DAYS SAN [server|client]
leaf() {
	key "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	if [ "$6" = server ]; then
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$5" >"$1.ext"
	else
		printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
	fi
	openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
		-days "$4" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}

ca ca "lia test CA"
ca ca2 "lia untrusted CA"
leaf server localhost ca 365 "DNS:localhost,IP:127.0.0.1" server
leaf wrongname other.example ca 365 "DNS:other.example,IP:10.9.9.9" server
leaf client client1 ca 365 "" client
leaf client2 client2 ca 365 "" client
leaf client_soon client-soon ca 5 "" client
leaf client_bad intruder ca2 365 "" client
openssl pkey -in client.key -aes256 -passout pass:secret -out client_enc.key

# self-signed, for the same names as the server
key selfsigned.key
openssl req -x509 -new -key selfsigned.key -subj "/CN=localhost" -days 365 -out selfsigned.crt \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1"

# expired: openssl ca takes explicit start and end dates in the past
key expired.key
openssl req -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p ca.db
: >ca.db/index.txt
echo 01 >ca.db/serial
cat >ca.db/ca.cnf <<CNF
[ca]
default_ca = def
[def]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
[ext]
subjectAltName = DNS:localhost,IP:127.0.0.1
CNF
openssl ca -batch -notext -config ca.db/ca.cnf -extensions ext -startdate 20200101000000Z \
	-enddate 20200201000000Z -in expired.csr -out expired.crt 2>/dev/null
chmod 644 ./*.key
rm -f ./*.csr ./*.ext ./*.srl
