"""The demo generator's word lists: Vietnamese names, domains and their topics, places, publishers.

Kept apart from ``generator.py`` because they are data, not the logic that draws records from them.
"""

from __future__ import annotations

FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trương",
    "Đinh",
)
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Hữu", "Thu", "Hoàng", "Xuân", "Kim")
GIVEN = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hạnh",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Việt",
    "Yến",
    "Đức",
    "Hải",
    "Huy",
    "Nga",
    "Thắng",
    "Thủy",
    "Vân",
)
FOREIGN = ("Smith, Jane", "Tanaka, Hiroshi", "Müller, Karl", "Dubois, Claire", "Kim, Min-jun", "Brown, David")

# domain -> (Vietnamese subject, English subject, Vietnamese topics, English topics)
DOMAINS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "cs": (
        "Khoa học máy tính",
        "Computer science",
        (
            "ứng dụng học sâu trong nhận dạng chữ viết tay tiếng Việt",
            "xây dựng hệ thống tìm kiếm thông tin cho thư viện số",
            "phân tích cảm xúc bình luận tiếng Việt trên mạng xã hội",
            "bảo mật dữ liệu trong điện toán đám mây",
            "tối ưu hóa truy vấn cơ sở dữ liệu phân tán",
            "xử lý ngôn ngữ tự nhiên cho văn bản hành chính",
        ),
        (
            "deep learning for Vietnamese handwriting recognition",
            "information retrieval for digital libraries",
            "sentiment analysis of Vietnamese social media comments",
            "data security in cloud computing",
            "query optimisation in distributed databases",
        ),
    ),
    "agri": (
        "Nông nghiệp",
        "Agriculture",
        (
            "ảnh hưởng của phân bón hữu cơ đến năng suất lúa",
            "chọn tạo giống lúa chịu mặn",
            "quản lý dịch hại tổng hợp trên cây cà phê",
            "kỹ thuật nuôi tôm thẻ chân trắng thâm canh",
            "tưới nước tiết kiệm cho cây ăn quả",
            "chuỗi giá trị nông sản hữu cơ",
        ),
        (
            "effects of organic fertiliser on rice yield",
            "breeding salt-tolerant rice varieties",
            "integrated pest management in coffee",
            "intensive whiteleg shrimp farming",
        ),
    ),
    "forest": (
        "Lâm nghiệp",
        "Forestry",
        (
            "đa dạng sinh học thực vật rừng",
            "quản lý rừng bền vững dựa vào cộng đồng",
            "sinh trưởng của rừng trồng keo lai",
            "chi trả dịch vụ môi trường rừng",
        ),
        (
            "plant biodiversity of natural forests",
            "community-based sustainable forest management",
            "growth of acacia hybrid plantations",
        ),
    ),
    "econ": (
        "Kinh tế học",
        "Economics",
        (
            "các nhân tố ảnh hưởng đến đầu tư trực tiếp nước ngoài",
            "phát triển kinh tế hợp tác xã nông nghiệp",
            "quản trị rủi ro tín dụng tại ngân hàng thương mại",
            "chuyển đổi số trong doanh nghiệp nhỏ và vừa",
            "phát triển du lịch bền vững",
        ),
        (
            "determinants of foreign direct investment",
            "credit risk management in commercial banks",
            "digital transformation of small and medium enterprises",
        ),
    ),
    "edu": (
        "Giáo dục học",
        "Education",
        (
            "đổi mới phương pháp dạy học môn Toán ở trường trung học phổ thông",
            "phát triển năng lực tự học của sinh viên sư phạm",
            "giáo dục kỹ năng sống cho học sinh tiểu học",
            "đánh giá năng lực học sinh theo chương trình giáo dục phổ thông mới",
        ),
        (
            "teaching mathematics in upper secondary schools",
            "self-study competence of pre-service teachers",
        ),
    ),
    "lib": (
        "Thư viện học",
        "Library science",
        (
            "phát triển thư viện số tại các trường đại học",
            "nâng cao chất lượng dịch vụ thông tin - thư viện",
            "liên kết chia sẻ nguồn tin khoa học và công nghệ",
            "ứng dụng chuẩn MARC 21 trong biên mục",
            "xây dựng mục lục liên hợp cho các thư viện",
        ),
        (
            "digital library development in universities",
            "union catalogues and resource sharing",
            "quality of library and information services",
        ),
    ),
    "env": (
        "Môi trường",
        "Environmental science",
        (
            "ô nhiễm vi nhựa trong nước sông",
            "biến đổi khí hậu và xâm nhập mặn",
            "xử lý nước thải sinh hoạt bằng công nghệ sinh học",
        ),
        (
            "microplastic pollution in river water",
            "climate change and salinity intrusion",
        ),
    ),
    "soc": (
        "Khoa học xã hội",
        "Social sciences",
        (
            "đời sống văn hóa của đồng bào Khmer",
            "di sản Hán Nôm",
            "biến đổi gia đình Việt Nam",
            "lịch sử Việt Nam thời Nguyễn",
        ),
        (
            "family change in contemporary Vietnam",
            "Han-Nom heritage",
        ),
    ),
    "sci": (
        "Hóa học",
        "Chemistry",
        (
            "tổng hợp vật liệu nano từ tính",
            "hoạt tính kháng khuẩn của cây thuốc",
            "mô hình hóa dòng chảy lũ",
        ),
        (
            "synthesis of magnetic nanomaterials",
            "antibacterial activity of medicinal plants",
        ),
    ),
}
PLACES = (
    "tỉnh Trà Vinh",
    "tỉnh Bình Định",
    "Thành phố Hồ Chí Minh",
    "Hà Nội",
    "tỉnh Thừa Thiên Huế",
    "đồng bằng sông Cửu Long",
    "tỉnh Lâm Đồng",
    "tỉnh Đắk Lắk",
    "Tây Nguyên",
    "tỉnh Nghệ An",
    "tỉnh Quảng Ninh",
    "tỉnh Cà Mau",
)
PLACES_EN = (
    "the Mekong Delta",
    "Ho Chi Minh City",
    "Hanoi",
    "the Central Highlands",
    "Thua Thien Hue",
    "Binh Dinh province",
    "Tra Vinh province",
)

# Each member's profile: its domains and how often it catalogues each kind (book, thesis, article, report).
PROFILES: dict[str, tuple[tuple[str, ...], tuple[int, int, int, int]]] = {
    "NASATI": (("lib", "cs", "sci", "env", "agri"), (3, 2, 3, 4)),
    "CESTI": (("lib", "cs", "env", "econ"), (3, 1, 2, 4)),
    "VAST": (("sci", "env", "cs", "forest"), (2, 2, 5, 3)),
    "VNUHCM": (("cs", "sci", "econ", "lib"), (3, 5, 3, 1)),
    "BDLIB": (("soc", "lib", "agri", "edu"), (7, 1, 1, 1)),
    "NEU": (("econ", "lib"), (3, 5, 3, 1)),
    "VNUF": (("forest", "env", "agri"), (3, 5, 2, 1)),
    "TVU": (("agri", "soc", "edu", "cs"), (3, 5, 2, 1)),
    "VNUA": (("agri", "env", "econ"), (3, 5, 3, 1)),
    "HCMUE": (("edu", "soc", "lib"), (3, 5, 2, 1)),
    "NTTU": (("cs", "econ", "sci"), (3, 4, 2, 1)),
    "VASS": (("soc", "econ", "lib"), (4, 2, 3, 2)),
    "HUE": (("edu", "agri", "soc", "sci"), (3, 5, 2, 1)),
}

PUBLISHERS_VI = (
    "Nhà xuất bản Khoa học và Kỹ thuật",
    "Nhà xuất bản Đại học Quốc gia TP. Hồ Chí Minh",
    "Nhà xuất bản Nông nghiệp",
    "Nhà xuất bản Giáo dục Việt Nam",
    "Nhà xuất bản Khoa học tự nhiên và Công nghệ",
    "Nhà xuất bản Thống kê",
    "Nhà xuất bản Khoa học xã hội",
    "Nhà xuất bản Đại học Huế",
    "Nhà xuất bản Tri thức",
)
PUBLISHERS_EN = ("Springer", "CRC Press", "Elsevier", "Routledge", "Wiley")
