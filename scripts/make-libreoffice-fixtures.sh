#!/usr/bin/env bash
# Rebuilds packages/core/test/fixtures/libreoffice/*.xlsx from the flat-ODS (.fods) sources beside them, with
# LibreOffice Calc, so the test suite has workbooks written by a real non-Excel producer.
#   apt-get install -y --no-install-recommends libreoffice-calc   # once (Debian)
#   bash scripts/make-libreoffice-fixtures.sh
# The outputs are committed; re-run only when a source changes (docProps timestamps differ on every run).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/packages/core/test/fixtures/libreoffice"

if ! command -v soffice >/dev/null 2>&1; then
  echo "soffice not found: apt-get install -y --no-install-recommends libreoffice-calc" >&2
  exit 1
fi

# A throwaway profile: no clash with a running LibreOffice, and a place for the one macro below.
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
lo=(soffice --headless --norestore "-env:UserInstallation=file://$profile")

echo "$(soffice --version)"

# Plain conversions (this first run also initialises the profile).
"${lo[@]}" --convert-to xlsx --outdir "$dir" "$dir/orders.fods" "$dir/date1904.fods"

# hidden-first-sheet: the xlsx exporter always shows the "displayed" sheet, and a --convert-to run has no view,
# so the displayed sheet is sheet 1 and its hidden state is dropped. A macro loads the file with a view, makes the
# visible sheet the active one, and stores the xlsx; the hidden state itself comes from the .fods source.
cat >"$profile/user/basic/Standard/Module1.xba" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">
Sub ConvertWithActiveSheet(src As String, dst As String, sheetName As String)
  Dim loadArgs(0) As New com.sun.star.beans.PropertyValue
  loadArgs(0).Name = &quot;Hidden&quot;
  loadArgs(0).Value = False
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), &quot;_blank&quot;, 0, loadArgs())
  doc.CurrentController.setActiveSheet(doc.Sheets.getByName(sheetName))
  Dim storeArgs(0) As New com.sun.star.beans.PropertyValue
  storeArgs(0).Name = &quot;FilterName&quot;
  storeArgs(0).Value = &quot;Calc MS Excel 2007 XML&quot;
  doc.storeToURL(ConvertToURL(dst), storeArgs())
  doc.close(True)
  StarDesktop.terminate()
End Sub
</script:module>
EOF
rm -f "$dir/hidden-first-sheet.xlsx"
"${lo[@]}" "macro:///Standard.Module1.ConvertWithActiveSheet(\"$dir/hidden-first-sheet.fods\",\"$dir/hidden-first-sheet.xlsx\",\"Data\")"

for f in orders date1904 hidden-first-sheet; do
  if [[ ! -s "$dir/$f.xlsx" ]]; then
    echo "missing output: $dir/$f.xlsx" >&2
    exit 1
  fi
done
# The properties that make these fixtures worth having; fail loudly if a LibreOffice version stops producing them.
unzip -p "$dir/hidden-first-sheet.xlsx" xl/workbook.xml | grep -q 'name="Notes" sheetId="1" state="hidden"' ||
  { echo "hidden-first-sheet.xlsx: sheet 1 is not hidden" >&2; exit 1; }
unzip -p "$dir/date1904.xlsx" xl/workbook.xml | grep -q 'date1904="true"' ||
  { echo "date1904.xlsx: not written with the 1904 date system" >&2; exit 1; }
ls -l "$dir"/*.xlsx
