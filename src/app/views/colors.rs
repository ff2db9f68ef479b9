//! Fit the drawn frame to the terminal's colours: truecolor as drawn, else RGB colours
//! mapped to the nearest of the 256-colour palette or the 16 basic colours, or no colour
//! at all (NO_COLOR; bold, reverse and the other modifiers stay).

use ratatui::buffer::Buffer;
use ratatui::style::Color;

use crate::config::ColorChoice;

/// Rewrite every cell's colours for `depth`.
pub fn adapt(buf: &mut Buffer, depth: ColorChoice) {
    if matches!(depth, ColorChoice::TrueColor | ColorChoice::Auto) {
        return;
    }
    for cell in buf.content.iter_mut() {
        cell.fg = map(cell.fg, depth);
        cell.bg = map(cell.bg, depth);
        cell.underline_color = map(cell.underline_color, depth);
    }
}

/// One colour at `depth`.
pub fn map(c: Color, depth: ColorChoice) -> Color {
    match depth {
        ColorChoice::TrueColor | ColorChoice::Auto => c,
        ColorChoice::None => Color::Reset,
        ColorChoice::Ansi256 => match c {
            Color::Rgb(r, g, b) => Color::Indexed(nearest_256(r, g, b)),
            other => other,
        },
        ColorChoice::Ansi16 => match c {
            Color::Rgb(r, g, b) => nearest_16(r, g, b),
            Color::Indexed(i) if i >= 16 => {
                let (r, g, b) = rgb_of_256(i);
                nearest_16(r, g, b)
            }
            Color::Indexed(i) => BASIC[i as usize].0,
            other => other,
        },
    }
}

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    // Weighted for the eye: green counts most.
    3 * d(a.0, b.0).pow(2) + 4 * d(a.1, b.1).pow(2) + 2 * d(a.2, b.2).pow(2)
}

fn rgb_of_256(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => BASIC[i as usize].1,
        16..=231 => {
            let n = i - 16;
            (
                CUBE[(n / 36) as usize],
                CUBE[(n / 6 % 6) as usize],
                CUBE[(n % 6) as usize],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| {
        CUBE.iter()
            .enumerate()
            .min_by_key(|(_, c)| (i32::from(**c) - i32::from(v)).abs())
            .map_or(0, |(i, _)| i as u8)
    };
    let cube = 16 + 36 * level(r) + 6 * level(g) + level(b);
    let avg = ((u16::from(r) + u16::from(g) + u16::from(b)) / 3) as u8;
    let grey = 232 + (avg.saturating_sub(3) / 10).min(23);
    let want = (r, g, b);
    if dist(rgb_of_256(grey), want) < dist(rgb_of_256(cube), want) {
        grey
    } else {
        cube
    }
}

/// The 16 basic colours with xterm's default RGB values.
const BASIC: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    BASIC
        .iter()
        .min_by_key(|(_, rgb)| dist(*rgb, (r, g, b)))
        .map_or(Color::Reset, |(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_the_nearest_colour() {
        assert_eq!(
            map(Color::Rgb(255, 0, 0), ColorChoice::Ansi256),
            Color::Indexed(196)
        );
        assert_eq!(
            map(Color::Rgb(128, 128, 128), ColorChoice::Ansi256),
            Color::Indexed(244)
        );
        assert_eq!(
            map(Color::Rgb(250, 10, 10), ColorChoice::Ansi16),
            Color::LightRed
        );
        assert_eq!(map(Color::Indexed(21), ColorChoice::Ansi16), Color::Blue);
        assert_eq!(map(Color::Cyan, ColorChoice::Ansi16), Color::Cyan);
        assert_eq!(map(Color::Rgb(1, 2, 3), ColorChoice::None), Color::Reset);
        assert_eq!(
            map(Color::Rgb(1, 2, 3), ColorChoice::TrueColor),
            Color::Rgb(1, 2, 3)
        );
    }
}
