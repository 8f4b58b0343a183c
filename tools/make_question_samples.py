#!/usr/bin/env python3
"""Writes the sample question banks in content-samples/questions/: original Maths 12 and
Physics 12 items in the teachers' Word convention, as .docx (equations as OMML, a figure as
an embedded PNG) and as plain text (equations as LaTeX). Deterministic: rerun to regenerate.

    python3 tools/make_question_samples.py
"""
import io, random, struct, zlib, zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "content-samples" / "questions"
rng = random.Random(2025)

# An expression is a list of pieces: plain strings, ("frac", a, b), ("sup", base, exp),
# ("sub", base, idx), ("sqrt", x). Each renders to LaTeX and to OMML.
def latex(e):
    out = ""
    for p in e:
        if isinstance(p, str): out += p
        elif p[0] == "frac": out += "\\frac{%s}{%s}" % (latex(p[1]), latex(p[2]))
        elif p[0] == "sup": out += "{%s}^{%s}" % (latex(p[1]), latex(p[2]))
        elif p[0] == "sub": out += "{%s}_{%s}" % (latex(p[1]), latex(p[2]))
        elif p[0] == "sqrt": out += "\\sqrt{%s}" % latex(p[1])
    return out

def esc(t): return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

def omml(e):
    out = ""
    for p in e:
        if isinstance(p, str): out += "<m:r><m:t>%s</m:t></m:r>" % esc(p)
        elif p[0] == "frac": out += "<m:f><m:num>%s</m:num><m:den>%s</m:den></m:f>" % (omml(p[1]), omml(p[2]))
        elif p[0] == "sup": out += "<m:sSup><m:e>%s</m:e><m:sup>%s</m:sup></m:sSup>" % (omml(p[1]), omml(p[2]))
        elif p[0] == "sub": out += "<m:sSub><m:e>%s</m:e><m:sub>%s</m:sub></m:sSub>" % (omml(p[1]), omml(p[2]))
        elif p[0] == "sqrt": out += "<m:rad><m:radPr><m:degHide m:val=\"1\"/></m:radPr><m:deg/><m:e>%s</m:e></m:rad>" % omml(p[1])
    return out

def E(*pieces): return ("eq", list(pieces))
def num(x):
    s = ("%.2f" % x).rstrip("0").rstrip(".")
    return s.replace(".", ",")

FIGURE = "FIGURE"  # placeholder piece: the embedded graph

# ---------------------------------------------------------------------------------------------
# Items: dicts with part (1,2,3), stem (list of text / E(...) / FIGURE), options or statements
# or answer, level, topic, solution.

def distinct(item):
    """A multiple-choice item whose four options read differently (else it is skipped)."""
    if item["part"] != 1: return True
    texts = [text_of(as_pieces(o)) for o in [item["right"]] + item["wrong"]]
    return len(set(texts)) == 4

class Bank(list):
    """Collects items loop by loop: `begin(n)` opens a loop that keeps its first n good items."""
    limit = 0
    def begin(self, n): self.limit = len(self) + n
    def add(self, item):
        if distinct(item) and len(self) < self.limit: self.append(item)

def maths():
    items = Bank()
    T1, T2, T3, T4, T5 = ("Chương 1. Ứng dụng đạo hàm", "Chương 2. Nguyên hàm và tích phân",
        "Chương 3. Phương pháp tọa độ trong không gian", "Chương 4. Hàm số mũ và lôgarit", "Chương 5. Xác suất")
    items.begin(8)
    for i in range(32):  # derivatives
        a, n = rng.randint(2, 9), rng.randint(3, 6)
        right = E(str(a * n), ("sup", ["x"], [str(n - 1)]))
        wrong = [E(str(a), ("sup", ["x"], [str(n - 1)])), E(str(a * n), ("sup", ["x"], [str(n)])), E(str(a + n), ("sup", ["x"], [str(n - 1)]))]
        items.add(dict(part=1, topic=T1, level="biet", stem=["Đạo hàm của hàm số ", E("y = " + str(a), ("sup", ["x"], [str(n)])), " là"],
                          right=right, wrong=wrong, solution=["Áp dụng công thức ", E("(", ("sup", ["x"], ["n"]), ")' = n", ("sup", ["x"], ["n-1"])), "."]))
    items.begin(7)
    for i in range(28):  # integrals
        a, b = rng.randint(1, 6), rng.randint(1, 4)
        val = a * b * b
        items.add(dict(part=1, topic=T2, level="hieu", stem=["Tích phân ", E("∫", ("sub", [""], ["0"]), ("sup", [""], [str(b)]), " " + str(2 * a) + "x dx"), " bằng"],
                          right=[str(val)], wrong=[[str(val + a)], [str(2 * val)], [str(a * b)]], solution=["Ta có ", E(str(2 * a) + "x dx = " + str(a), ("sup", ["x"], ["2"])), ", thay cận được " + str(val) + "."]))
    items.begin(7)
    for i in range(28):  # Oxyz distance
        x, y, z = rng.randint(1, 6), rng.randint(1, 6), rng.randint(0, 4)
        d2 = x * x + y * y + z * z
        items.add(dict(part=1, topic=T3, level="van_dung" if i % 2 else "hieu",
                          stem=["Trong không gian Oxyz, khoảng cách từ gốc tọa độ O đến điểm M(%d; %d; %d) bằng" % (x, y, z)],
                          right=[E(("sqrt", [str(d2)]))], wrong=[E(("sqrt", [str(d2 + 1)])), [str(x + y + z)], E(("sqrt", [str(x * x + y * y)]))], solution=[]))
    items.begin(8)
    for i in range(32):  # logarithms
        base, k = rng.choice([2, 3, 5, 10]), rng.randint(2, 5)
        items.add(dict(part=1, topic=T4, level="biet", stem=["Giá trị của ", E(("sub", ["log"], [str(base)]), " " + str(base ** k)), " là"],
                          right=[str(k)], wrong=[[str(k + 1)], [str(base * k)], [str(k - 1)]], solution=[]))
    items.begin(6)
    for i in range(24):  # probability
        n, r = rng.randint(5, 9), rng.randint(2, 4)
        items.add(dict(part=1, topic=T5, level="hieu", stem=["Một hộp có %d viên bi đỏ và %d viên bi xanh. Lấy ngẫu nhiên một viên. Xác suất lấy được bi đỏ là" % (n, r)],
                          right=E(("frac", [str(n)], [str(n + r)])), wrong=[E(("frac", [str(r)], [str(n + r)])), E(("frac", [str(n)], [str(r)])), E(("frac", ["1"], [str(n + r)]))], solution=[]))
    items.begin(12)
    for i in range(48):  # true/false on a cubic
        a = rng.randint(1, 4)
        stem = ["Cho hàm số ", E("f(x) = ", ("sup", ["x"], ["3"]), " - " + str(3 * a * a) + "x"), "."]
        if i == 0: stem += [" Đồ thị được cho trong hình: ", FIGURE]
        st = [(["Đạo hàm ", E("f'(x) = 3", ("sup", ["x"], ["2"]), " - " + str(3 * a * a))], True),
              (["Hàm số đạt cực đại tại ", E("x = " + str(a))], False),
              (["Hàm số nghịch biến trên khoảng ", E("(-" + str(a) + "; " + str(a) + ")")], True),
              (["Giá trị cực tiểu của hàm số bằng ", E(str(2 * a ** 3))], False)]
        rng.shuffle(st)
        items.add(dict(part=2, topic=T1, level=["hieu", "van_dung"][i % 2], stem=stem, statements=st, solution=[]))
    items.begin(12)
    for i in range(48):  # short answers
        a, b = rng.randint(2, 9), rng.randint(1, 9)
        if i % 2:
            items.add(dict(part=3, topic=T2, level="van_dung", stem=["Tính tích phân ", E("∫", ("sub", [""], ["0"]), ("sup", [""], ["1"]), " (" + str(2 * a) + "x + " + str(b) + ") dx"), "."], answer=[str(a + b)], solution=[]))
        else:
            items.add(dict(part=3, topic=T3, level="van_dung", stem=["Trong không gian Oxyz, cho A(%d; 0; 0) và B(0; %d; 0). Tính độ dài đoạn AB (làm tròn đến hàng phần mười)." % (a, b)],
                              answer=[num(round((a * a + b * b) ** 0.5, 1))], solution=[]))
    return items

def physics():
    items = Bank()
    T1, T2, T3, T4 = "Chương 1. Vật lí nhiệt", "Chương 2. Khí lí tưởng", "Chương 3. Từ trường", "Chương 4. Vật lí hạt nhân"
    items.begin(9)
    for i in range(36):  # heat Q = m c Δt
        m, dt = rng.randint(1, 5), rng.randint(10, 40)
        q = m * 4200 * dt
        items.add(dict(part=1, topic=T1, level="hieu", stem=["Nhiệt lượng cần cung cấp để làm nóng %d kg nước thêm %d °C (nhiệt dung riêng của nước là 4200 J/kg.K) là" % (m, dt)],
                          right=[num(q / 1000) + " kJ"], wrong=[[num(q / 2000) + " kJ"], [num(q / 100) + " kJ"], [num(m * 4.2) + " kJ"]], solution=[E("Q = mcΔt")]))
    items.begin(9)
    for i in range(36):  # Boyle
        p1, v1, v2 = rng.randint(1, 4), rng.choice([2, 4, 6, 8]), rng.choice([1, 2, 3])
        p2 = p1 * v1 / v2
        items.add(dict(part=1, topic=T2, level=["biet", "hieu"][i % 2], stem=["Một lượng khí lí tưởng có áp suất %d atm, thể tích %d lít được nén đẳng nhiệt tới thể tích %d lít. Áp suất khí lúc sau là" % (p1, v1, v2)],
                          right=[num(p2) + " atm"], wrong=[[num(p2 * 2) + " atm"], [num(p1 * v2 / v1) + " atm"], [num(p2 + 1) + " atm"]], solution=[E(("sub", ["p"], ["1"]), ("sub", ["V"], ["1"]), " = ", ("sub", ["p"], ["2"]), ("sub", ["V"], ["2"]))]))
    items.begin(9)
    for i in range(36):  # force on a wire F = B I l
        b, i_, l = rng.choice([0.1, 0.2, 0.5]), rng.randint(2, 10), rng.choice([0.2, 0.5, 1])
        f = b * i_ * l
        items.add(dict(part=1, topic=T3, level="hieu", stem=["Một đoạn dây dẫn dài %s m mang dòng điện %d A đặt vuông góc với các đường sức của từ trường đều có độ lớn cảm ứng từ %s T. Lực từ tác dụng lên đoạn dây có độ lớn" % (num(l), i_, num(b))],
                          right=[num(f) + " N"], wrong=[[num(f * 2) + " N"], [num(f / 2) + " N"], [num(b * i_) + " N"]], solution=[E("F = BIl")]))
    items.begin(9)
    for i in range(36):  # half-life
        t, n = rng.choice([2, 3, 5, 8]), rng.randint(1, 4)
        left = 100 / 2 ** n
        items.add(dict(part=1, topic=T4, level=["biet", "van_dung"][i % 2], stem=["Một chất phóng xạ có chu kì bán rã %d ngày. Sau %d ngày, phần trăm số hạt nhân còn lại so với ban đầu là" % (t, t * n)],
                          right=[num(left) + " %"], wrong=[[num(100 - left) + " %"], [num(100 / (n + 1)) + " %"], [num(left * 2) + " %"]], solution=[E("N = ", ("sub", ["N"], ["0"]), ("sup", ["2"], ["-t/T"]))]))
    items.begin(12)
    for i in range(48):
        st = [(["Nội năng của một vật phụ thuộc vào nhiệt độ và thể tích của vật."], True),
              (["Trong quá trình đẳng nhiệt, áp suất tỉ lệ thuận với thể tích."], False),
              (["Lực từ tác dụng lên dòng điện có phương vuông góc với cảm ứng từ."], True),
              (["Tia gamma mang điện tích âm."], False)]
        rng.shuffle(st)
        items.add(dict(part=2, topic=[T1, T2, T3, T4][i % 4], level=["hieu", "van_dung"][i % 2], stem=["Xét các phát biểu sau (nhóm %d):" % (i + 1)], statements=st, solution=[]))
    items.begin(12)
    for i in range(48):
        m, dt = rng.randint(2, 9), rng.randint(5, 20)
        items.add(dict(part=3, topic=T1, level="van_dung", stem=["Cần cung cấp bao nhiêu kJ nhiệt lượng để làm nóng %d kg nước thêm %d °C? (c = 4200 J/kg.K; làm tròn đến hàng đơn vị)" % (m, dt)],
                          answer=[str(round(m * 4.2 * dt))], solution=[]))
    return items

def english():
    items = Bank()
    T1, T2 = "Chủ đề 1. Đọc hiểu", "Chủ đề 2. Từ vựng và ngữ pháp"
    passage = ("Read the passage and answer the questions.", [
        "Ha Long Bay, in northern Vietnam, has thousands of limestone islands rising from green water.",
        "Visitors usually explore the bay by boat, and many stay overnight to watch the sunrise.",
        "In 1994 the bay was recognised as a World Heritage Site, and today local people work to keep it clean."])
    questions = [
        ("Where is Ha Long Bay?", "in northern Vietnam", ["in southern Vietnam", "in central Laos", "on the Mekong River"], "biet"),
        ("What rises from the water of the bay?", "limestone islands", ["tall buildings", "wooden bridges", "sand dunes"], "biet"),
        ("How do visitors usually explore the bay?", "by boat", ["by train", "on foot", "by plane"], "hieu"),
        ("When was the bay recognised as a World Heritage Site?", "in 1994", ["in 1945", "in 2004", "in 1999"], "hieu"),
        ("What do local people do today?", "keep the bay clean", ["build new islands", "close the bay", "sell the boats"], "hieu"),
    ]
    items.begin(5)
    for i, (q, right, wrong, level) in enumerate(questions):
        item = dict(part=1, topic=T1, level=level, stem=[q], right=[right], wrong=[[w] for w in wrong], solution=[])
        if i == 0: item["passage"] = passage
        if i == len(questions) - 1: item["end_passage"] = True
        items.add(item)
    words = [("big", "large", ["tiny", "narrow", "weak"]), ("quick", "fast", ["slow", "late", "heavy"]), ("begin", "start", ["finish", "stop", "close"]),
             ("happy", "glad", ["sad", "angry", "tired"]), ("difficult", "hard", ["easy", "simple", "soft"]), ("little", "small", ["huge", "long", "wide"]),
             ("smart", "clever", ["silly", "lazy", "rude"]), ("choose", "select", ["refuse", "forget", "lose"])]
    items.begin(8)
    for w, right, wrong in words:
        items.add(dict(part=1, topic=T2, level="biet", stem=['Choose the word CLOSEST in meaning to "%s".' % w], right=[right], wrong=[[x] for x in wrong], solution=[]))
    grammar = [("She ___ to school every day.", "goes", ["go", "going", "gone"]), ("They ___ football yesterday.", "played", ["play", "plays", "playing"]),
               ("If it rains, we ___ at home.", "will stay", ["stayed", "stay", "would stayed"]), ("This is the book ___ I told you about.", "which", ["who", "whom", "whose"]),
               ("He has lived here ___ 2010.", "since", ["for", "from", "during"]), ("The bridge ___ in 2005.", "was built", ["built", "is building", "has build"]),
               ("I am interested ___ learning English.", "in", ["on", "at", "of"])]
    items.begin(7)
    for q, right, wrong in grammar:
        items.add(dict(part=1, topic=T2, level="hieu", stem=[q], right=[right], wrong=[[x] for x in wrong], solution=[]))
    return items

# ---------------------------------------------------------------------------------------------
# Writing

def text_of(pieces):
    out = ""
    for p in pieces:
        if p == FIGURE: continue
        out += ("$" + latex(p[1]) + "$") if isinstance(p, tuple) and p[0] == "eq" else p
    return out

def as_pieces(x):  # an option given as text list or an E(...)
    return [x] if isinstance(x, tuple) else x

HEADINGS = {1: "PHẦN I. Câu trắc nghiệm nhiều phương án lựa chọn", 2: "PHẦN II. Câu trắc nghiệm đúng sai", 3: "PHẦN III. Câu trắc nghiệm trả lời ngắn"}
LEVELS = {"biet": "Biết", "hieu": "Hiểu", "van_dung": "Vận dụng"}

def lines(items):
    """[(pieces, marked)] per paragraph; marked flags the correct label."""
    out, number = [], {1: 0, 2: 0, 3: 0}
    for part in (1, 2, 3):
        if not any(i["part"] == part for i in items): continue
        out.append(([HEADINGS[part]], False))
        for it in (i for i in items if i["part"] == part):
            if "passage" in it:
                out.append((["Ngữ liệu: " + it["passage"][0]], False))
                out.extend(([line], False) for line in it["passage"][1])
            number[part] += 1
            out.append((["Câu %d. " % number[part]] + it["stem"], False))
            if part == 1:
                options = [(it["right"], True)] + [(w, False) for w in it["wrong"]]
                rng.shuffle(options)
                for label, (opt, right) in zip("ABCD", options):
                    out.append(([label + ". "] + as_pieces(opt), right))
            elif part == 2:
                for label, (st, right) in zip("abcd", it["statements"]):
                    out.append(([label + ") "] + st, right))
            else:
                out.append((["Đáp án: " + ";".join(it["answer"])], False))
            out.append((["Mức độ: " + LEVELS[it["level"]]], False))
            out.append((["Chủ đề: " + it["topic"]], False))
            if it["solution"]:
                out.append((["Lời giải: "] + it["solution"], False))
            if it.get("end_passage"):
                out.append((["Hết ngữ liệu"], False))
    return out

def write_text(path, paragraphs):
    with open(path, "w", encoding="utf-8") as f:
        for pieces, marked in paragraphs:
            f.write(("*" if marked else "") + text_of(pieces) + "\n")

def png_graph():
    w, h = 160, 100
    px = [[255] * w for _ in range(h)]
    for x in range(w):
        t = (x - w / 2) / (w / 4)
        y = int(h / 2 - (t ** 3 - 3 * t) * h / 8)
        if 0 <= y < h: px[y][x] = 0
        px[h // 2][x] = 128
    for y in range(h): px[y][w // 2] = 128
    raw = b"".join(b"\x00" + bytes(r) for r in px)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def write_docx(path, paragraphs):
    body = ""
    for pieces, marked in paragraphs:
        runs, first = "", True
        for p in pieces:
            if p == FIGURE:
                runs += '<w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"><wp:extent cx="1524000" cy="952500"/><wp:docPr id="1" name="Đồ thị"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:blipFill><a:blip r:embed="rIdFig1"/></pic:blipFill></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>'
            elif isinstance(p, tuple):
                runs += "<m:oMath>%s</m:oMath>" % omml(p[1])
            else:
                if first and (p[:2] in ("A.", "B.", "C.", "D.") or p[:2] in ("a)", "b)", "c)", "d)")):
                    # The label: bold always, underlined when correct (Part I) or red (Part II).
                    mark = "" if not marked else ('<w:u w:val="single"/>' if p[1] == "." else '<w:color w:val="FF0000"/>')
                    runs += '<w:r><w:rPr><w:b/>%s</w:rPr><w:t xml:space="preserve">%s</w:t></w:r>' % (mark, esc(p[:2]))
                    p = p[2:]
                runs += '<w:r><w:t xml:space="preserve">%s</w:t></w:r>' % esc(p)
            first = False
        body += "<w:p>%s</w:p>" % runs
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                'xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><w:body>%s<w:sectPr/></w:body></w:document>' % body)
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    doc_rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdFig1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/do-thi.png"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("[Content_Types].xml", types), ("_rels/.rels", rels), ("word/document.xml", document), ("word/_rels/document.xml.rels", doc_rels)):
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)); info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
        info = zipfile.ZipInfo("word/media/do-thi.png", date_time=(2025, 1, 1, 0, 0, 0))
        z.writestr(info, png_graph())

OUT.mkdir(parents=True, exist_ok=True)
for name, items in (("toan-12", maths()), ("vat-li-12", physics()), ("tieng-anh-12", english())):
    paragraphs = lines(items)
    write_text(OUT / (name + ".txt"), paragraphs)
    write_docx(OUT / (name + ".docx"), paragraphs)
    print(name, len(items), "items")
