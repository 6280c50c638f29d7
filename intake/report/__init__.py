"""The reviewer's screening report (HTML, CSV, XLSX, JSON) and the export package."""
