"""Reference data of the synthetic Scout warehouse: regions and cities, the product catalog,
shopper segments and the behavioural weights the generator draws from.

Brand names are invented (plausible, not real trademarks); regions, cities and their
coordinates are real. Weights are rough shares, not statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

# The tables below keep their hand-laid rows (one region, category or weight set per line).
# fmt: off
# --- geography -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    code: str  # PSGC-style region code, kept as a string ("01")
    name: str
    island_group: str
    weight: float  # share of stores
    price_index: float  # regional price level (logistics, remoteness)
    urban_share: float
    cities: tuple[tuple[str, float, float], ...]  # (city, latitude, longitude)


REGIONS: tuple[Region, ...] = (
    Region("13", "NCR", "Luzon", 13.0, 1.05, 1.00, (
        ("Quezon City", 14.676, 121.044), ("Manila", 14.599, 120.984), ("Caloocan", 14.651, 120.972),
        ("Pasig", 14.576, 121.085), ("Taguig", 14.517, 121.051), ("Makati", 14.554, 121.024),
        ("Marikina", 14.650, 121.103), ("Parañaque", 14.479, 121.020), ("Valenzuela", 14.700, 120.983),
        ("Las Piñas", 14.445, 120.993), ("Malabon", 14.662, 120.957), ("Mandaluyong", 14.578, 121.034))),
    Region("04", "CALABARZON", "Luzon", 15.0, 1.02, 0.70, (
        ("Antipolo", 14.586, 121.176), ("Bacoor", 14.459, 120.946), ("Dasmariñas", 14.329, 120.937),
        ("Calamba", 14.212, 121.165), ("Santa Rosa", 14.312, 121.111), ("Biñan", 14.334, 121.080),
        ("Lipa", 13.941, 121.163), ("Batangas City", 13.757, 121.058), ("Lucena", 13.931, 121.617),
        ("Imus", 14.430, 120.937), ("San Pablo", 14.069, 121.326))),
    Region("03", "Central Luzon", "Luzon", 11.0, 1.00, 0.60, (
        ("Angeles", 15.145, 120.584), ("San Fernando", 15.034, 120.684), ("Malolos", 14.843, 120.811),
        ("Meycauayan", 14.736, 120.961), ("San Jose del Monte", 14.814, 121.045), ("Olongapo", 14.829, 120.282),
        ("Tarlac City", 15.486, 120.590), ("Cabanatuan", 15.486, 120.967), ("Balanga", 14.676, 120.536))),
    Region("01", "Ilocos Region", "Luzon", 5.0, 1.00, 0.40, (
        ("San Fernando City", 16.616, 120.317), ("Laoag", 18.197, 120.593), ("Vigan", 17.575, 120.387),
        ("Dagupan", 16.043, 120.333), ("Alaminos", 16.155, 119.981), ("Urdaneta", 15.976, 120.571))),
    Region("02", "Cagayan Valley", "Luzon", 3.5, 1.01, 0.35, (
        ("Tuguegarao", 17.613, 121.727), ("Santiago", 16.688, 121.548), ("Cauayan", 16.935, 121.772),
        ("Ilagan", 17.148, 121.889))),
    Region("14", "CAR", "Luzon", 1.7, 1.08, 0.45, (
        ("Baguio", 16.402, 120.596), ("La Trinidad", 16.455, 120.588), ("Tabuk", 17.418, 121.444),
        ("Bangued", 17.595, 120.617))),
    Region("05", "Bicol Region", "Luzon", 5.5, 0.99, 0.35, (
        ("Legazpi", 13.139, 123.743), ("Naga", 13.621, 123.194), ("Sorsogon City", 12.974, 124.006),
        ("Iriga", 13.423, 123.412), ("Masbate City", 12.368, 123.620))),
    Region("17", "MIMAROPA", "Luzon", 2.8, 1.06, 0.30, (
        ("Puerto Princesa", 9.740, 118.736), ("Calapan", 13.411, 121.180), ("San Jose", 12.353, 121.067),
        ("Boac", 13.447, 121.843))),
    Region("06", "Western Visayas", "Visayas", 7.0, 0.98, 0.45, (
        ("Iloilo City", 10.720, 122.562), ("Bacolod", 10.676, 122.951), ("Roxas City", 11.585, 122.751),
        ("Kalibo", 11.707, 122.364))),
    Region("07", "Central Visayas", "Visayas", 7.5, 0.99, 0.55, (
        ("Cebu City", 10.316, 123.891), ("Mandaue", 10.324, 123.922), ("Lapu-Lapu", 10.310, 123.949),
        ("Talisay", 10.245, 123.849), ("Tagbilaran", 9.648, 123.855), ("Dumaguete", 9.307, 123.308))),
    Region("08", "Eastern Visayas", "Visayas", 4.3, 1.00, 0.30, (
        ("Tacloban", 11.244, 125.004), ("Ormoc", 11.006, 124.607), ("Catbalogan", 11.775, 124.886),
        ("Maasin", 10.133, 124.845), ("Borongan", 11.608, 125.432))),
    Region("09", "Zamboanga Peninsula", "Mindanao", 3.6, 1.01, 0.40, (
        ("Zamboanga City", 6.921, 122.079), ("Dipolog", 8.588, 123.341), ("Pagadian", 7.825, 123.437),
        ("Dapitan", 8.655, 123.424))),
    Region("10", "Northern Mindanao", "Mindanao", 4.6, 1.00, 0.45, (
        ("Cagayan de Oro", 8.454, 124.632), ("Iligan", 8.228, 124.245), ("Valencia", 7.906, 125.094),
        ("Malaybalay", 8.157, 125.127), ("Ozamiz", 8.148, 123.842))),
    Region("11", "Davao Region", "Mindanao", 5.0, 1.00, 0.55, (
        ("Davao City", 7.190, 125.455), ("Tagum", 7.448, 125.808), ("Panabo", 7.308, 125.684),
        ("Digos", 6.750, 125.357), ("Mati", 6.955, 126.216))),
    Region("12", "SOCCSKSARGEN", "Mindanao", 4.1, 1.02, 0.40, (
        ("General Santos", 6.116, 125.172), ("Koronadal", 6.503, 124.847), ("Kidapawan", 7.008, 125.089),
        ("Tacurong", 6.693, 124.676))),
    Region("16", "Caraga", "Mindanao", 2.6, 1.03, 0.35, (
        ("Butuan", 8.947, 125.543), ("Surigao City", 9.784, 125.489), ("Bislig", 8.210, 126.316),
        ("Bayugan", 8.714, 125.767))),
    Region("19", "BARMM", "Mindanao", 3.5, 1.05, 0.25, (
        ("Cotabato City", 7.223, 124.246), ("Marawi", 8.000, 124.288), ("Lamitan", 6.650, 122.136),
        ("Jolo", 6.052, 121.002))),
)

# (store_type, share, traffic multiplier, assortment breadth, price markup)
STORE_TYPES: tuple[tuple[str, float, float, float, float], ...] = (
    ("sari-sari", 0.78, 1.00, 0.55, 1.08),
    ("mini-mart", 0.09, 1.90, 0.85, 1.04),
    ("market stall", 0.07, 1.30, 0.50, 1.03),
    ("carinderia store", 0.06, 1.15, 0.45, 1.10),
)
OWNER_FEMALE = ("Nena", "Linda", "Marites", "Cora", "Baby", "Lorna", "Tess", "Gloria", "Rosa", "Josie",
                "Maricel", "Divina", "Luz", "Edna", "Fe", "Precy", "Nora", "Lita", "Vilma", "Cely")
OWNER_MALE = ("Tonyo", "Ben", "Ramon", "Jun", "Boy", "Carding", "Nestor", "Rudy", "Dante", "Romy",
              "Jojo", "Eddie", "Pepe", "Lando", "Berto", "Toto")
STORE_SUFFIX = {"sari-sari": ("Sari-Sari Store", "Store", "Tindahan"),
                "mini-mart": ("Mini Mart", "Minimart"),
                "market stall": ("Market Stall", "Puwesto"),
                "carinderia store": ("Carinderia & Store", "Eatery & Store")}

# --- calendar ----------------------------------------------------------------------------------

DOW_WEIGHT = (0.95, 0.93, 0.95, 0.97, 1.05, 1.18, 1.12)  # Monday..Sunday
HOLIDAYS = {(1, 1): "New Year's Day", (4, 9): "Araw ng Kagitingan", (5, 1): "Labor Day",
            (6, 12): "Independence Day", (8, 21): "Ninoy Aquino Day", (11, 1): "All Saints' Day",
            (11, 2): "All Souls' Day", (11, 30): "Bonifacio Day", (12, 8): "Feast of the Immaculate Conception",
            (12, 24): "Christmas Eve", (12, 25): "Christmas Day", (12, 30): "Rizal Day",
            (12, 31): "New Year's Eve"}
# opening hours 05:00-21:59; weights per hour (morning rush, lunch, merienda, after work)
HOUR_WEIGHT = {5: 2, 6: 6, 7: 8, 8: 6, 9: 4, 10: 4, 11: 6, 12: 6, 13: 4, 14: 3, 15: 4, 16: 6, 17: 8,
               18: 9, 19: 8, 20: 6, 21: 3}
DAYPARTS = ("morning", "midday", "afternoon", "evening")  # 5-10, 11-14, 15-17, 18-21
DAYPART_START = (5, 11, 15, 18)

# --- shoppers ---------------------------------------------------------------------------------

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_WEIGHT = (0.17, 0.24, 0.20, 0.17, 0.13, 0.09)
INCOME_CLASSES = ("A", "B", "C", "D", "E")
INCOME_WEIGHT_URBAN = (0.02, 0.07, 0.31, 0.45, 0.15)
INCOME_WEIGHT_RURAL = (0.005, 0.025, 0.17, 0.50, 0.30)
SEGMENTS = ("student", "young_worker", "homemaker", "blue_collar", "senior", "ofw_household",
            "small_business_owner")
# P(segment | age band): rows follow AGE_BANDS, columns SEGMENTS
SEGMENT_BY_AGE = (
    (0.55, 0.25, 0.08, 0.08, 0.00, 0.02, 0.02),
    (0.05, 0.40, 0.22, 0.20, 0.00, 0.07, 0.06),
    (0.00, 0.18, 0.35, 0.25, 0.00, 0.12, 0.10),
    (0.00, 0.08, 0.38, 0.24, 0.02, 0.14, 0.14),
    (0.00, 0.02, 0.33, 0.15, 0.30, 0.10, 0.10),
    (0.00, 0.00, 0.15, 0.03, 0.75, 0.04, 0.03),
)
# extra items per basket by segment (anonymous shoppers use 0)
SEGMENT_BASKET_BONUS = (0.0, 0.1, 0.5, 0.1, 0.1, 0.6, 1.0)

# --- catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    name: str
    department: str
    share: float  # share of requested items
    qty_mean: float  # mean units per line
    generic: float  # P(asked for generically: "isang kilong bigas")
    tingi: bool  # sold per piece / per stick
    brands: tuple[tuple[str, float], ...]  # (brand, price factor); listed by market share
    variants: tuple[tuple[str, float, float], ...]  # (variant, base price PHP, weight)


def _b(*pairs: str) -> tuple[tuple[str, float], ...]:
    """Brands written as ``"Name@factor"``."""
    return tuple((p.split("@")[0], float(p.split("@")[1])) for p in pairs)


CATEGORIES: tuple[Category, ...] = (
    Category("Soft Drinks", "Beverages", 6.5, 1.2, 0.10, False,
             _b("Kola Pinoy@1.0", "Sunburst Orange@0.95", "Tropikola@0.9", "Fizzo Root Beer@0.95", "Sparkle Lemon@0.9"),
             (("8oz glass bottle", 12, 3), ("290ml mismo", 15, 4), ("1.5L bottle", 65, 1.5))),
    Category("Juice & Iced Tea", "Beverages", 3.0, 1.3, 0.10, False,
             _b("Sariwa@1.0", "Tropi Iced Tea@0.95", "Mango Bliss@1.05", "Citrus Boost@0.9"),
             (("250ml tetra pack", 13, 3), ("powder sachet 25g", 20, 2), ("500ml bottle", 28, 1))),
    Category("Bottled Water", "Beverages", 2.0, 1.2, 0.35, False,
             _b("Malinaw@1.0", "Aqua Pura@1.1", "Bukal@0.9"),
             (("350ml", 10, 2), ("500ml", 15, 3), ("1L", 25, 1))),
    Category("Energy Drinks", "Beverages", 2.5, 1.1, 0.05, False,
             _b("Bullseye@1.0", "Lakas Plus@0.95", "Cobalt@1.05"),
             (("240ml bottle", 25, 3), ("powder sachet", 12, 1))),
    Category("Coffee", "Beverages", 6.0, 1.8, 0.15, True,
             _b("Kape Bayani@1.0", "Barako Gold@1.1", "Sikat 3-in-1@0.95", "Mornings Brew@1.0", "Kapeng Klasik@0.9"),
             (("3-in-1 original 20g sachet", 7.5, 4), ("3-in-1 brown 25g sachet", 8.5, 2),
              ("black 2g stick", 3, 1), ("twin pack", 14, 1))),
    Category("Powdered Milk & Choco", "Beverages", 3.0, 1.3, 0.10, False,
             _b("Gatas Plus@1.0", "ChocoLakas@0.95", "Milkyway Kids@1.05", "Malta Choco@0.9"),
             (("33g sachet", 13, 4), ("80g pack", 30, 1.5), ("150g pack", 55, 0.7))),
    Category("Chips & Snacks", "Snacks & Sweets", 7.0, 1.4, 0.10, False,
             _b("Crispy Patata@1.0", "Chiz Curls@0.9", "Kornik Gold@0.85", "Pilipinas Chips@0.95",
                "Hexa Crisps@1.05", "Multigrain Wave@1.1"),
             (("small 25g", 8, 4), ("medium 60g", 18, 2), ("large 100g", 32, 0.6))),
    Category("Biscuits & Crackers", "Snacks & Sweets", 4.5, 1.5, 0.10, False,
             _b("Skyline Crackers@1.0", "Fibra@1.05", "Choco Cream Sandwich@1.1", "Butter Lite@0.95",
                "Marie Classic@0.9"),
             (("single pack", 7, 4), ("10-pack", 65, 0.5))),
    Category("Bread & Pastries", "Snacks & Sweets", 4.0, 2.5, 0.60, True,
             _b("Panaderia Fresh@1.0", "Golden Loaf@1.15", "Monay Bakery@0.95"),
             (("pandesal per piece", 3, 6), ("ensaymada", 15, 1), ("loaf bread 450g", 68, 0.7))),
    Category("Candies & Chocolates", "Snacks & Sweets", 4.0, 2.6, 0.15, True,
             _b("Minty Fresh@1.0", "Choco Mani@1.0", "Sampalok Chews@0.9", "Max Menthol@1.0", "Kendi Kopi@0.9"),
             (("per piece", 1, 6), ("bar", 8, 1.5), ("pack", 25, 0.5))),
    Category("Instant Noodles", "Canned & Packaged Food", 6.0, 1.6, 0.10, False,
             _b("Pancit Sarap@1.0", "Mami King@0.95", "Noodle Time@0.9", "Sopas Express@1.0"),
             (("chicken 55g", 9, 3), ("beef 55g", 9, 2), ("pancit canton 60g", 15, 3), ("cup noodles 60g", 25, 0.8))),
    Category("Canned Fish", "Canned & Packaged Food", 5.0, 1.3, 0.15, False,
             _b("Dagat Sardines@1.0", "Isla@1.05", "Pacific Tuna@1.2", "Mackerel Star@0.95"),
             (("sardines in tomato sauce 155g", 24, 4), ("spicy sardines 155g", 25, 1.5),
              ("flakes in oil 155g", 36, 1))),
    Category("Canned Meat", "Canned & Packaged Food", 3.5, 1.1, 0.10, False,
             _b("Sulit@1.0", "Pampas@1.1", "Luncheon Star@1.15", "Bida Meats@0.9"),
             (("corned beef 150g", 38, 3), ("meat loaf 150g", 25, 2.5), ("vienna sausage 130g", 30, 1),
              ("luncheon meat 165g", 55, 0.8))),
    Category("Milk & Dairy", "Canned & Packaged Food", 2.5, 1.2, 0.15, False,
             _b("Gatas Bayan@1.0", "Creamy Condensada@1.05", "Dairy Prime@1.1"),
             (("evaporated 154ml", 25, 3), ("condensed 300ml", 55, 1.5), ("creamer 150ml", 22, 2))),
    Category("Rice", "Food Staples", 4.5, 1.6, 0.80, False,
             _b("Sinandomeng@1.0", "Bigas ng Bayan@0.9", "Dinorado@1.15", "Jasmine Premium@1.25"),
             (("per kilo", 52, 3), ("half kilo", 27, 2))),
    Category("Eggs", "Food Staples", 3.0, 3.0, 0.85, True,
             _b("Farm Fresh@1.0", "Itlog Pinoy@0.95", "Golden Yolk@1.1"),
             (("medium per piece", 8, 3), ("large per piece", 9.5, 1.5))),
    Category("Cooking Oil", "Food Staples", 2.5, 1.1, 0.60, False,
             _b("Nyog Gold@1.0", "Palm Pure@0.9", "Sun Ray@1.1"),
             (("per takal 200ml", 18, 3), ("500ml bottle", 60, 1), ("1L bottle", 110, 0.5))),
    Category("Condiments & Sauces", "Food Staples", 4.0, 1.1, 0.30, False,
             _b("Silver Crane@1.0", "Datu Tamis@0.95", "Saging Ketchup@1.05", "Lola Remy@1.1"),
             (("soy sauce 200ml", 15, 2), ("vinegar 200ml", 12, 2), ("fish sauce 150ml", 18, 1.5),
              ("banana ketchup 100g", 15, 1))),
    Category("Seasonings", "Food Staples", 3.0, 1.5, 0.25, True,
             _b("Linamnam@1.0", "Sabaw Cubes@1.05", "Umami Star@0.9"),
             (("8g sachet", 5, 4), ("broth cube", 7, 2), ("50g pack", 20, 0.7))),
    Category("Shampoo & Conditioner", "Personal Care", 4.0, 1.6, 0.10, True,
             _b("Buhok Ganda@1.0", "Silky Sun@1.05", "Clear Head@1.15", "Velvet Cream@1.1"),
             (("shampoo sachet 12ml", 7, 4), ("conditioner sachet 12ml", 7, 2), ("shampoo 170ml bottle", 95, 0.3))),
    Category("Bath Soap", "Personal Care", 2.5, 1.1, 0.10, False,
             _b("Safe Shield@1.0", "Bango@0.9", "Dalisay@1.1", "Papaya White@0.95"),
             (("60g bar", 25, 3), ("90g bar", 38, 1))),
    Category("Oral Care", "Personal Care", 2.0, 1.0, 0.10, False,
             _b("Ngiti@1.0", "Fresh Up@1.05", "Smile Pinoy@0.85"),
             (("toothpaste 22ml", 12, 3), ("toothpaste 50ml", 35, 1), ("toothbrush", 25, 1))),
    Category("Feminine Care", "Personal Care", 1.0, 1.5, 0.20, True,
             _b("Hiyas@1.0", "Comfy Day@0.95"),
             (("napkin per piece", 6, 3), ("pack of 8", 45, 1))),
    Category("Laundry Care", "Household", 4.5, 1.6, 0.10, False,
             _b("Tidal Clean@1.05", "Bula@0.9", "Azul@1.1", "Kampeon@0.95"),
             (("powder sachet 70g", 9, 4), ("detergent bar 380g", 32, 1.5), ("fabric conditioner sachet", 8, 2))),
    Category("Dishwashing & Cleaning", "Household", 2.5, 1.2, 0.15, False,
             _b("Saya Dishwash@1.0", "Action Paste@0.95", "Puti Bleach@1.0"),
             (("dishwashing sachet 20ml", 6, 3), ("dishwashing paste 200g", 30, 1), ("bleach 250ml", 18, 1))),
    Category("Household Supplies", "Household", 1.5, 1.5, 0.40, True,
             _b("Liwanag@1.0", "Everlite@1.1", "Posporo Uno@0.9"),
             (("candle", 8, 2), ("matchbox", 2, 2), ("AA battery", 20, 1))),
    Category("Cigarettes", "Tobacco", 8.0, 2.6, 0.05, True,
             _b("Marlon Red@1.1", "Fortuna@0.9", "Pag-asa@0.85", "Malakas@0.9", "Kampeon Menthol@0.95"),
             (("per stick", 8, 6), ("pack of 20", 150, 0.6))),
    Category("Beer", "Alcoholic Drinks", 4.0, 1.8, 0.10, False,
             _b("San Gabriel Pale@1.0", "Pulang Kabayo@1.05", "Kolt Strong@0.95"),
             (("pale pilsen 330ml bottle", 45, 3), ("strong 500ml bottle", 60, 2), ("1L grande", 110, 0.8))),
    Category("Spirits", "Alcoholic Drinks", 2.0, 1.1, 0.10, False,
             _b("Gin Kapitan@1.0", "Tanglaw Rhum@1.05", "Emperio Brandy@1.3"),
             (("350ml flask", 70, 3), ("700ml bottle", 130, 1))),
    Category("Baby Care", "Baby & Health", 1.5, 2.0, 0.15, True,
             _b("Baby Ligaya@1.0", "Dry Tots@0.9"),
             (("diaper per piece", 12, 4), ("baby wipes pack", 35, 1), ("baby powder 50g", 40, 0.5))),
    Category("OTC Medicine", "Baby & Health", 1.5, 1.8, 0.45, True,
             _b("Ginhawa@1.0", "Sipon Relief@1.05", "Tiyan Care@1.0"),
             (("tablet per piece", 6, 3), ("capsule per piece", 8, 1))),
    Category("Ice & Frozen", "Snacks & Sweets", 1.5, 1.6, 0.70, True,
             _b("Yelo Plus@1.0", "Ice Candy ni Aling@0.9", "Sorbetes Co@1.2"),
             (("ice tube", 5, 3), ("ice candy", 8, 2), ("ice cream cup", 30, 0.5))),
)
CATEGORY_INDEX = {c.name: i for i, c in enumerate(CATEGORIES)}

# Category preference multipliers per segment (index by SEGMENTS; anonymous shoppers use none).
SEGMENT_TASTE: dict[str, dict[str, float]] = {
    "student": {"Chips & Snacks": 2.0, "Candies & Chocolates": 2.0, "Soft Drinks": 1.8, "Juice & Iced Tea": 1.6,
                "Instant Noodles": 1.4, "Ice & Frozen": 1.8, "Cigarettes": 0.3, "Beer": 0.2, "Spirits": 0.2,
                "Baby Care": 0.1, "Rice": 0.5, "Cooking Oil": 0.3, "Laundry Care": 0.4},
    "young_worker": {"Energy Drinks": 2.0, "Coffee": 1.3, "Cigarettes": 1.3, "Beer": 1.3, "Instant Noodles": 1.5,
                     "Soft Drinks": 1.2},
    "homemaker": {"Rice": 2.0, "Cooking Oil": 2.2, "Condiments & Sauces": 2.0, "Seasonings": 2.0,
                  "Canned Fish": 1.5, "Canned Meat": 1.4, "Eggs": 1.8, "Laundry Care": 2.0,
                  "Dishwashing & Cleaning": 2.0, "Baby Care": 2.5, "Milk & Dairy": 1.5, "Cigarettes": 0.3,
                  "Beer": 0.3, "Spirits": 0.2, "Energy Drinks": 0.3},
    "blue_collar": {"Cigarettes": 2.2, "Beer": 1.8, "Spirits": 2.0, "Energy Drinks": 2.2, "Coffee": 1.5,
                    "Instant Noodles": 1.3, "Candies & Chocolates": 0.6},
    "senior": {"Coffee": 1.6, "Bread & Pastries": 1.6, "OTC Medicine": 2.5, "Milk & Dairy": 1.4,
               "Canned Fish": 1.3, "Soft Drinks": 0.7, "Energy Drinks": 0.2, "Chips & Snacks": 0.5},
    "ofw_household": {"Canned Meat": 1.5, "Powdered Milk & Choco": 1.5, "Baby Care": 1.5,
                      "Juice & Iced Tea": 1.3},
    "small_business_owner": {"Cooking Oil": 1.5, "Condiments & Sauces": 1.5, "Rice": 1.5, "Ice & Frozen": 2.0,
                             "Soft Drinks": 1.2},
}
DAYPART_TASTE: tuple[dict[str, float], ...] = (
    {"Coffee": 2.0, "Bread & Pastries": 2.5, "Milk & Dairy": 1.5, "Eggs": 1.3, "Powdered Milk & Choco": 1.5,
     "Beer": 0.2, "Spirits": 0.1, "Chips & Snacks": 0.7},
    {"Canned Fish": 1.4, "Canned Meat": 1.4, "Instant Noodles": 1.4, "Rice": 1.4, "Soft Drinks": 1.3,
     "Ice & Frozen": 1.8},
    {"Chips & Snacks": 1.6, "Candies & Chocolates": 1.4, "Juice & Iced Tea": 1.4, "Soft Drinks": 1.3,
     "Bread & Pastries": 1.3},
    {"Beer": 2.5, "Spirits": 2.2, "Cigarettes": 1.4, "Chips & Snacks": 1.3, "Instant Noodles": 1.3,
     "Coffee": 0.6},
)
# Weekend and payday evenings sell more drink.
PARTY_TASTE = {"Beer": 1.6, "Spirits": 1.6, "Chips & Snacks": 1.2, "Soft Drinks": 1.1}

# What else goes in the basket: (from category, to category, probability per item).
COMPLEMENTS: tuple[tuple[str, str, float], ...] = (
    ("Coffee", "Bread & Pastries", 0.25), ("Coffee", "Milk & Dairy", 0.10),
    ("Bread & Pastries", "Coffee", 0.20), ("Bread & Pastries", "Milk & Dairy", 0.10),
    ("Beer", "Chips & Snacks", 0.35), ("Beer", "Cigarettes", 0.20), ("Spirits", "Chips & Snacks", 0.30),
    ("Spirits", "Soft Drinks", 0.25), ("Cigarettes", "Candies & Chocolates", 0.15),
    ("Instant Noodles", "Eggs", 0.30), ("Canned Fish", "Rice", 0.25), ("Rice", "Canned Fish", 0.20),
    ("Cooking Oil", "Condiments & Sauces", 0.25), ("Condiments & Sauces", "Seasonings", 0.20),
    ("Shampoo & Conditioner", "Bath Soap", 0.20), ("Laundry Care", "Dishwashing & Cleaning", 0.20),
    ("Soft Drinks", "Chips & Snacks", 0.25), ("Chips & Snacks", "Soft Drinks", 0.20),
    ("Baby Care", "Powdered Milk & Choco", 0.15), ("Energy Drinks", "Cigarettes", 0.15),
)
# fmt: on
