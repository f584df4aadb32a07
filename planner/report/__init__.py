"""Reports for officials: one printable page (HTML and PDF), a spreadsheet and the walk areas.

Modules, bottom up: :mod:`~planner.report.tables` (the tables and sentences, en/zh),
:mod:`~planner.report.pictures` (static map pictures), :mod:`~planner.report.page` (the HTML
page), :mod:`~planner.report.files` (spreadsheet, PDF, walk areas) and
:mod:`~planner.report.build` (:func:`write_report`).
"""

from planner.report.build import write_report
from planner.report.files import print_pdf, service_areas, write_shapefile, write_xlsx
from planner.report.page import report_html
from planner.report.pictures import map_picture
from planner.report.tables import ReportData, Table, report_data

__all__ = [
    "ReportData",
    "Table",
    "map_picture",
    "print_pdf",
    "report_data",
    "report_html",
    "service_areas",
    "write_report",
    "write_shapefile",
    "write_xlsx",
]
