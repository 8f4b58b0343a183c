#!/usr/bin/env bash
# Renders the papers and keys the sample test prints (target/printed/*.docx, written by
# `samples::seeding_loads_samples_and_every_sample_matrix_fits`) to PDF and one PNG per page with
# LibreOffice, as a school's computer would open them. Needs `soffice` (Debian:
# libreoffice-writer-nogui) and `pdftoppm` (poppler-utils).
#   cargo nextest run -E 'test(seeding_loads_samples)' && tools/render-printed.sh
set -euo pipefail
cd "$(dirname "$0")/../target/printed"
soffice --headless --convert-to pdf --outdir . ./*.docx >/dev/null
for pdf in ./*.pdf; do
  pdftoppm -r 80 -png "$pdf" "${pdf%.pdf}"
done
ls -1 ./*.png
