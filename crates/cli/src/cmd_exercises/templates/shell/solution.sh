#!/bin/sh
# The reference solution of {{id}}: `gauntlet exercises check` grades it (it must score 100).
awk '{ n += NF } END { print n + 0 }'
