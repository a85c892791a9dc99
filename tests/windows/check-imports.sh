#!/bin/sh
# SPDX-License-Identifier: MIT
# Every DLL of the Windows build imports system DLLs only: a DLL that needs
# libgcc_s_seh-1.dll or libwinpthread-1.dll (128-bit arithmetic, a dynamic
# winpthreads) fails to load with error 126 where they are not installed.
# Usage: check-imports.sh OBJDUMP DLL...
set -eu
objdump=$1
shift
status=0
for dll in "$@"; do
	names=$("$objdump" -p "$dll" | sed -n 's/^[[:space:]]*DLL Name: //p')
	[ -n "$names" ] || { echo "$dll: no imports found" >&2; status=1; }
	for name in $names; do
		case $(echo "$name" | tr 'A-Z' 'a-z') in
		kernel32.dll | ntdll.dll | msvcrt.dll | ucrtbase.dll | api-ms-win-*.dll) ;;
		*)
			echo "$dll imports $name, not a system DLL" >&2
			status=1
			;;
		esac
	done
	echo "$dll: $(echo $names)"
done
exit $status
