//! The score distribution (phổ điểm) drawn as a bar chart: SVG with labels, and the same bars
//! as a PNG (a plain RGB raster, zlib-compressed) for documents that cannot take SVG.
use std::io::Write;

const WIDTH: usize = 880;
const HEIGHT: usize = 400;
const LEFT: usize = 60;
const BOTTOM: usize = 50;
const TOP: usize = 40;

fn layout(counts: &[u32]) -> (u32, f64) {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bar = (WIDTH - LEFT - 20) as f64 / counts.len().max(1) as f64;
    (max, bar)
}

/// `counts[i]` candidates scored in [i*0.25, (i+1)*0.25); a 10 is in the last bar.
pub fn svg(title: &str, counts: &[u32]) -> String {
    let (max, bar) = layout(counts);
    let plot_h = (HEIGHT - TOP - BOTTOM) as f64;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{x}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{t}</text>
"##,
        x = WIDTH / 2,
        t = crate::text::escape_markup(title)
    );
    for step in 0..=4 {
        let value = f64::from(max) * f64::from(step) / 4.0;
        let y = TOP as f64 + plot_h - plot_h * f64::from(step) / 4.0;
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#dddddd\"/>\n<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            WIDTH - 20,
            LEFT - 6,
            y + 4.0,
            value.round()
        ));
    }
    for (i, count) in counts.iter().enumerate() {
        let h = plot_h * f64::from(*count) / f64::from(max);
        let x = LEFT as f64 + bar * i as f64;
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1f6fb2\"><title>{}–{}: {count}</title></rect>\n",
            x + 1.0,
            TOP as f64 + plot_h - h,
            (bar - 2.0).max(1.0),
            label(i),
            label(i + 1),
        ));
        if i % 4 == 0 {
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                x,
                HEIGHT - BOTTOM + 16,
                i / 4
            ));
        }
    }
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">Điểm / Score</text>\n<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">Số thí sinh / Candidates</text>\n</svg>\n",
        WIDTH / 2,
        HEIGHT - 12,
        HEIGHT / 2,
        HEIGHT / 2
    ));
    out
}

fn label(bin: usize) -> String {
    let hundredths = bin * 25;
    format!("{},{:02}", hundredths / 100, hundredths % 100)
}

/// The same bars and grid as the SVG, as a PNG.
pub fn png(counts: &[u32]) -> Vec<u8> {
    let (max, bar) = layout(counts);
    let plot_h = (HEIGHT - TOP - BOTTOM) as f64;
    let mut pixels = vec![255u8; WIDTH * HEIGHT * 3];
    let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize, rgb: [u8; 3]| {
        for y in y0.min(HEIGHT)..y1.min(HEIGHT) {
            for x in x0.min(WIDTH)..x1.min(WIDTH) {
                let i = (y * WIDTH + x) * 3;
                pixels[i..i + 3].copy_from_slice(&rgb);
            }
        }
    };
    for step in 0..=4 {
        let y = (TOP as f64 + plot_h - plot_h * f64::from(step) / 4.0) as usize;
        fill(LEFT, y, WIDTH - 20, y + 1, [0xdd, 0xdd, 0xdd]);
    }
    fill(
        LEFT,
        HEIGHT - BOTTOM,
        WIDTH - 20,
        HEIGHT - BOTTOM + 2,
        [0x33, 0x33, 0x33],
    );
    for (i, count) in counts.iter().enumerate() {
        let h = (plot_h * f64::from(*count) / f64::from(max)).round() as usize;
        let x = LEFT as f64 + bar * i as f64;
        fill(
            x as usize + 1,
            HEIGHT - BOTTOM - h,
            (x + bar) as usize - 1,
            HEIGHT - BOTTOM,
            [0x1f, 0x6f, 0xb2],
        );
        if i % 4 == 0 {
            fill(
                x as usize,
                HEIGHT - BOTTOM + 2,
                x as usize + 1,
                HEIGHT - BOTTOM + 8,
                [0x33, 0x33, 0x33],
            );
        }
    }
    encode_png(WIDTH as u32, HEIGHT as u32, &pixels)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// An 8-bit RGB PNG: signature, IHDR, one zlib IDAT of filter-0 scanlines, IEND.
fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("writing to memory");
    chunk(&mut out, b"IDAT", &z.finish().expect("writing to memory"));
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_well_formed_and_decodes_to_its_pixels() {
        let png = png(&[0, 1, 2, 3]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            WIDTH as u32
        );
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[idat - 4..idat].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&png[idat + 4..idat + 4 + len]),
            &mut raw,
        )
        .unwrap();
        assert_eq!(raw.len(), (WIDTH * 3 + 1) * HEIGHT);
        // Somewhere in the last bar there is the bar colour.
        assert!(raw.windows(3).any(|p| p == [0x1f, 0x6f, 0xb2]));
    }

    #[test]
    fn the_svg_labels_its_axes_and_escapes_the_title() {
        let svg = svg("Phổ điểm <Toán>", &[1, 0, 4]);
        assert!(svg.contains("Phổ điểm &lt;Toán&gt;"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains("0,50–0,75: 4"));
    }
}
