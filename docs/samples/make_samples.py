"""Writes the registry's sample import files (CSV and XLSX, clean and with errors).

Run from the project folder: ``.venv/bin/python docs/samples/make_samples.py``.
The samples match the demo data (``manage.py load_demo``): they name its
regions and update two of its units by code.
"""

import csv
import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
UNIT_HEADERS = [
    "单位编码",
    "名称",
    "类型",
    "所在区域",
    "地址",
    "联系人",
    "联系电话",
    "上级单位",
    "在用",
    "备注",
]

# A clean file: three new units (one with full-width digits and stray spaces,
# which the import tidies) and two updates of demo units by their code.
UNITS_CLEAN = [
    [
        "YZ-SAMPLE-01",
        "解放碑街道示例社区居委会",
        "社区（居委会）",
        "解放碑街道",
        "",
        "李主任",
        "023-63851234",
        "",
        "是",
        "示例数据",
    ],
    [
        "YZ-SAMPLE-02",
        "渝中区示例图书馆",
        "图书馆/博物馆/科技馆",
        "渝中区",
        "",
        "张老师",
        "13900001111",
        "",
        "是",
        "示例数据",
    ],
    [
        "ＹＺ－ＳＡＭＰＬＥ－０３",
        "  两路口街道示例社会组织  ",
        "社会组织",
        "两路口街道",
        "",
        "赵女士",
        "１３９００００２２２２",
        "",
        "是",
        "示例数据",
    ],
    ["FH-XK-04", "溪口中学", "初级中学", "溪口镇", "", "王老师", "0574-88881234", "", "是", ""],
    ["FH-XK-10", "溪口医院", "医院", "溪口镇", "", "陈医生", "0574-88885678", "", "是", ""],
]

# The same file with one mistake of each kind.
UNITS_ERRORS = [
    UNITS_CLEAN[0],
    [
        "YZ-SAMPLE-02",
        "渝中区示例图书馆",
        "图书馆/博物馆/科技馆",
        "不存在街道",
        "",
        "张老师",
        "13900001111",
        "",
        "是",
        "示例数据",
    ],  # unknown region
    [
        "YZ-SAMPLE-03",
        "两路口街道示例社会组织",
        "培训机构",
        "两路口街道",
        "",
        "赵女士",
        "13900002222",
        "",
        "是",
        "示例数据",
    ],  # unknown kind
    [
        "FH-XK-04",
        "溪口中学",
        "初级中学",
        "溪口镇",
        "",
        "王老师",
        "12345",
        "",
        "是",
        "",
    ],  # bad phone
    ["FH-XK-10", "", "医院", "溪口镇", "", "陈医生", "0574-88885678", "", "是", ""],  # missing name
    [
        "YZ-SAMPLE-01",
        "解放碑街道示例社区居委会",
        "社区（居委会）",
        "解放碑街道",
        "",
        "李主任",
        "023-63851234",
        "",
        "是",
        "示例数据",
    ],  # duplicate of row 2
]


# Shape problems (issue 10): what hand-edited files look like. Each one is named
# by row and column, together with the ordinary errors, and nothing is written.
LONG_NAME = "示例" * 65  # 130 characters; a unit's name holds at most 120
UNITS_SHAPE_CSV = [
    UNITS_CLEAN[0],
    # row 3: an address with an unquoted comma gives the row an eleventh cell
    UNITS_CLEAN[1][:4] + ["中山路 1 号", "2 楼"] + UNITS_CLEAN[1][5:],
    # row 4: a comma lost at the end: nine cells for ten titles
    UNITS_CLEAN[2][:9],
    # row 5: a name longer than the field allows
    ["YZ-SAMPLE-06", LONG_NAME, "企业", "南纪门街道", "", "", "", "", "是", ""],
    # row 6: an ordinary error, still reported alongside
    ["YZ-SAMPLE-07", "南纪门街道示例机构", "培训机构", "南纪门街道", "", "", "", "", "是", ""],
]
UNITS_SHAPE_XLSX = [
    UNITS_CLEAN[0],
    UNITS_CLEAN[1] + ["多出的单元格"],  # row 3: a cell in K, which has no title
    UNITS_CLEAN[3],
    ["FH-XK-11", "溪口镇示例合并单位", "企业", "溪口镇", "", "", "", "", "是", ""],  # row 5
    ["FH-XK-12", "", "企业", "溪口镇", "", "", "", "", "是", ""],  # row 6, B5:B6 merged
    ["YZ-SAMPLE-06", LONG_NAME, "企业", "南纪门街道", "", "", "", "", "是", ""],  # row 7
]
# The clean file with its column titles in English: nine as the English admin
# names them, and "Note", which is not one of its words.
UNIT_HEADERS_ENGLISH = [
    "Unit code",
    "Name",
    "Type",
    "Area",
    "Address",
    "Contact person",
    "Contact phone",
    "Parent unit",
    "Active",
    "Note",
]


def write_csv(name, headers, rows):
    with open(HERE / name, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)


def write_xlsx(name, headers, rows, typed_cells=(), merged=()):
    book = Workbook()
    sheet = book.active
    sheet.title = "成员单位"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    for row_number, column_number, value in typed_cells:
        sheet.cell(row=row_number, column=column_number, value=value)
    for cell_range in merged:
        sheet.merge_cells(cell_range)
    book.save(HERE / name)


if __name__ == "__main__":
    write_csv("units-clean.csv", UNIT_HEADERS, UNITS_CLEAN)
    write_csv("units-errors.csv", UNIT_HEADERS, UNITS_ERRORS)
    write_xlsx("units-clean.xlsx", UNIT_HEADERS, UNITS_CLEAN)
    # In the XLSX version two more cells are of the wrong type, as spreadsheets
    # make them: a date typed into 名称 and a phone number stored as a number.
    write_xlsx(
        "units-errors.xlsx",
        UNIT_HEADERS,
        UNITS_ERRORS
        + [
            ["YZ-SAMPLE-04", "", "社会组织", "南纪门街道", "", "孙先生", "", "", "是", ""],
            [
                "YZ-SAMPLE-05",
                "南纪门街道示例企业",
                "企业",
                "南纪门街道",
                "",
                "周先生",
                "",
                "",
                "是",
                "",
            ],
        ],
        typed_cells=[(8, 2, datetime.date(2024, 5, 11)), (9, 7, 13900003333)],
    )
    write_csv("units-shape.csv", UNIT_HEADERS, UNITS_SHAPE_CSV)
    write_xlsx("units-shape.xlsx", UNIT_HEADERS, UNITS_SHAPE_XLSX, merged=["B5:B6"])
    write_csv("units-english-headers.csv", UNIT_HEADERS_ENGLISH, UNITS_CLEAN)
    write_csv(
        "regions-clean.csv",
        ["行政区划代码", "名称", "类型", "上级区域"],
        [["", "示例社区", "社区/村", "七星岗街道"], ["", "另一示例社区", "社区/村", "解放碑街道"]],
    )
    write_csv(
        "memberships-clean.csv",
        ["联盟", "单位编码", "单位名称", "单位所在区域", "角色", "加入日期", "退出日期"],
        [
            ["渝中区“教联体”", "ZH-XP", "", "", "成员单位", "2024-05-12", ""],
            ["溪口联盟", "", "中华路小学", "渝中区", "成员单位", "2024/5/11", ""],
        ],
    )
