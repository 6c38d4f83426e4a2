#!/usr/bin/env python3
"""Signs requests with botocore, the reference SigV4 implementation, for the signer tests.

Reads a JSON array on stdin; each item has service, region, accessKeyID, secretAccessKey,
sessionToken (or null), method, url (already URI-encoded, as sent), headers ([[name, value]]),
bodyHex and date (seconds since the epoch). Prints a JSON array of
{"authorization": ...} in the same order.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(item):
    when = datetime.datetime.fromtimestamp(item["date"], tz=datetime.UTC).replace(tzinfo=None)
    botocore.auth.get_current_datetime = lambda *args, **kwargs: when
    credentials = Credentials(item["accessKeyID"], item["secretAccessKey"], item.get("sessionToken"))
    auth_class = botocore.auth.S3SigV4Auth if item["service"] == "s3" else botocore.auth.SigV4Auth
    auth = auth_class(credentials, item["service"], item["region"])
    request = AWSRequest(method=item["method"], url=item["url"], data=bytes.fromhex(item["bodyHex"]))
    for name, value in item["headers"]:
        request.headers[name] = value
    auth.add_auth(request)
    return {"authorization": request.headers["Authorization"]}


def main():
    items = json.load(sys.stdin)
    json.dump([sign(item) for item in items], sys.stdout)


if __name__ == "__main__":
    main()
