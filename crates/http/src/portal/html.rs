//! The portal's HTML pieces, on maud: the page frame (linking the style
//! sheet shared with the console and the copy buttons' script, both served
//! by `crate::assets`), a copyable value, a POST button carrying the CSRF
//! token, and the QR code as inline SVG.
//!
//! Escaping is by type: a `&str` or `String` spliced into a template is
//! always text, only [`Markup`] and [`PreEscaped`] are HTML. The only
//! pre-escaped piece is the QR code's SVG, which the qrcode crate writes
//! from the URL's bits.

use maud::{html, Markup, PreEscaped};

/// A whole page around `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (PreEscaped("<!DOCTYPE html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(crate::assets::STYLE_URL);
                script src=(crate::assets::PORTAL_JS_URL) defer {}
            }
            body {
                main class="narrow" { (body) }
            }
        }
    }
}

/// A value with a copy button (hidden until the script shows it).
pub fn copyable(id: &str, label: &str, value: &str) -> Markup {
    html! {
        p {
            span class="muted" { (label) }
            br;
            span class="row" {
                code id=(id) { (value) }
                button type="button" data-copy=(id) hidden { "Copy" }
            }
        }
    }
}

/// A POST form with the session's CSRF token, `hidden` fields and one
/// button.
pub fn post_button(
    action: &str,
    csrf: &str,
    hidden: &[(&str, &str)],
    label: &str,
    class: &str,
    disabled: bool,
) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @for (name, value) in hidden {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) disabled[disabled] { (label) }
        }
    }
}

/// `text` as a QR code in inline SVG; nothing when it does not fit one.
pub fn qr_svg(text: &str) -> Markup {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline SVG needs no XML declaration. The SVG is the qrcode
            // crate's own drawing of the code's modules: no text of ours.
            PreEscaped(
                svg.split_once("<svg")
                    .map(|(_, svg)| format!("<svg{svg}"))
                    .unwrap_or_default(),
            )
        }
        Err(e) => {
            tracing::debug!(error = %e, "no QR code for this URL");
            PreEscaped(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_text_whatever_they_hold() {
        let shown = copyable("u", "Name", "<a href=\"x\">'&'</a>").into_string();
        assert!(
            shown.contains("<code id=\"u\">&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;</code>"),
            "{shown}"
        );
        let form = post_button(
            "/portal/end",
            "t\"",
            &[("lease", "1")],
            "End",
            "danger",
            true,
        )
        .into_string();
        assert_eq!(
            form,
            "<form method=\"post\" action=\"/portal/end\"><input type=\"hidden\" name=\"csrf\" value=\"t&quot;\">\
             <input type=\"hidden\" name=\"lease\" value=\"1\"><button type=\"submit\" class=\"danger\" disabled>End</button></form>"
        );
    }

    #[test]
    fn qr_is_svg() {
        let svg = qr_svg("http://127.0.0.1:8080/get.php?username=u&password=p").into_string();
        assert!(svg.starts_with("<svg"), "{svg}");
    }
}
