"""The member units named in the consortium's 2019-2020 report, as demo members.

Codes, dates, contacts and OPAC addresses are illustrative (``example.vn`` hosts); names are the units'
own. Two observers show both sides of the two-year observation rule: VASS became eligible in 2025,
NTTU only in 2027.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from schemas.member import MemberCreate, MemberStatus, MetadataPrefix


@dataclass(frozen=True)
class DemoMember:
    """A demo member: its registration data and how many records its repository holds."""

    code: str
    name_vi: str
    name_en: str
    records: int
    status: MemberStatus = "member"
    joined: date | None = None
    observer_since: date | None = None
    metadata_prefix: MetadataPrefix = "oai_dc"
    opac_url_template: str | None = None

    @property
    def host(self) -> str:
        return f"{self.code.lower()}.example.vn"

    def to_create(self, oai_url: str) -> MemberCreate:
        """The registration of this member, harvested from ``oai_url``."""
        return MemberCreate(
            code=self.code,
            name_vi=self.name_vi,
            name_en=self.name_en,
            status=self.status,
            joined=self.joined,
            observer_since=self.observer_since,
            oai_url=oai_url,
            metadata_prefix=self.metadata_prefix,
            opac_url_template=self.opac_url_template or f"http://opac.{self.host}/record/{{local_id}}",
            contact=f"thuvien@{self.host}",
            harvest_schedule="daily",
        )


DEMO_MEMBERS: tuple[DemoMember, ...] = (
    DemoMember(
        "NASATI",
        "Cục Thông tin Khoa học và Công nghệ Quốc gia",
        "National Agency for Science and Technology Information",
        records=400,
        joined=date(2011, 7, 1),
    ),
    DemoMember(
        "CESTI",
        "Trung tâm Thông tin và Thống kê Khoa học và Công nghệ TP. Hồ Chí Minh",
        "Ho Chi Minh City Centre for Science and Technology Information and Statistics",
        records=320,
        joined=date(2011, 7, 1),
    ),
    DemoMember(
        "VAST",
        "Viện Hàn lâm Khoa học và Công nghệ Việt Nam",
        "Vietnam Academy of Science and Technology",
        records=360,
        joined=date(2012, 3, 15),
        metadata_prefix="marcxml",
    ),
    DemoMember(
        "VNUHCM",
        "Đại học Quốc gia Thành phố Hồ Chí Minh",
        "Vietnam National University Ho Chi Minh City",
        records=340,
        joined=date(2012, 9, 1),
    ),
    DemoMember(
        "BDLIB",
        "Thư viện tỉnh Bình Định",
        "Binh Dinh Provincial Library",
        records=180,
        joined=date(2016, 5, 20),
        opac_url_template="http://opac.bdlib.example.vn/opac/detail?id={local_id}",
    ),
    DemoMember(
        "NEU",
        "Trường Đại học Kinh tế Quốc dân",
        "National Economics University",
        records=260,
        joined=date(2014, 10, 10),
        metadata_prefix="marcxml",
    ),
    DemoMember(
        "VNUF",
        "Trường Đại học Lâm nghiệp",
        "Vietnam National University of Forestry",
        records=200,
        joined=date(2017, 4, 1),
    ),
    DemoMember(
        "TVU",
        "Trường Đại học Trà Vinh",
        "Tra Vinh University",
        records=170,
        joined=date(2018, 11, 5),
        opac_url_template="http://opac.tvu.example.vn/search?isbn={isbn}",
    ),
    DemoMember(
        "VNUA",
        "Học viện Nông nghiệp Việt Nam",
        "Vietnam National University of Agriculture",
        records=280,
        joined=date(2015, 6, 1),
    ),
    DemoMember(
        "HCMUE",
        "Trường Đại học Sư phạm Thành phố Hồ Chí Minh",
        "Ho Chi Minh City University of Education",
        records=220,
        joined=date(2016, 9, 12),
        metadata_prefix="marcxml",
    ),
    DemoMember(
        "NTTU",
        "Trường Đại học Nguyễn Tất Thành",
        "Nguyen Tat Thanh University",
        records=150,
        status="observer",
        observer_since=date(2025, 6, 1),
        opac_url_template="http://opac.nttu.example.vn/oai-record?id={oai_identifier}",
    ),
    DemoMember(
        "VASS",
        "Viện Hàn lâm Khoa học xã hội Việt Nam",
        "Vietnam Academy of Social Sciences",
        records=240,
        status="observer",
        observer_since=date(2023, 9, 15),
    ),
    DemoMember(
        "HUE",
        "Đại học Huế",
        "Hue University",
        records=260,
        joined=date(2013, 12, 1),
    ),
)

BY_CODE: dict[str, DemoMember] = {m.code: m for m in DEMO_MEMBERS}
