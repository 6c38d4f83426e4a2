#!/usr/bin/env bash
# Writes a small ClamAV database of generated test signatures into DIR (never the official one):
#   test.hdb  hash signature for clam.exe from Debian's clamav-testfiles (Clamav.Test.File-6 style)
#   test.ndb  body signature for the EICAR test string
#   test.yar  YARA rule for a canary string
# Usage: scripts/make-test-signatures.sh DIR
set -euo pipefail
dir=${1:?usage: make-test-signatures.sh DIR}
testfiles=${CLAMAV_TESTFILES:-/usr/share/clamav-testfiles}
mkdir -p "$dir"

clam_exe="$testfiles/clam.exe"
[ -f "$clam_exe" ] || { echo "make-test-signatures: $clam_exe is missing (apt-get install clamav-testfiles)" >&2; exit 1; }
printf '%s:%s:Test.ClamExe.Hash\n' "$(md5sum <"$clam_exe" | cut -d' ' -f1)" "$(stat -c %s "$clam_exe")" >"$dir/test.hdb"

eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Test.EICAR.Body:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -v -tx1 | tr -d ' \n')" >"$dir/test.ndb"

cat >"$dir/test.yar" <<'YARA'
rule Test_YARA_Canary
{
    strings:
        $canary = "S3-CLAMAV-SCANNER-YARA-CANARY"
    condition:
        $canary
}
YARA
