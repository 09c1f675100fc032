//! The portal's HTML pieces, on maud: the page frame with its small
//! responsive style sheet and the copy buttons' script, a copyable value, a
//! POST button carrying the CSRF token, and the QR code as inline SVG.
//!
//! Escaping is by type: a `&str` or `String` spliced into a template is
//! always text, only [`Markup`] and [`PreEscaped`] are HTML. The only
//! pre-escaped pieces are the constant style sheet and script below (the
//! Content-Security-Policy in `web.rs` allows inline ones) and the QR code's
//! SVG, which the qrcode crate writes from the URL's bits.

use maud::{html, Markup, PreEscaped};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330;line-height:1.45}\
main{max-width:44rem;margin:0 auto;padding:1rem}\
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:0 0 .6rem}\
section{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px #0002}\
.ok{color:#11703a;font-weight:600}.bad{color:#b3261e;font-weight:600}\
.notice{background:#fff6d6;border-left:4px solid #d9a400;padding:.6rem .8rem;margin:0 0 1rem}\
ul.plain{list-style:none;padding:0;margin:0}ul.plain li{padding:.5rem 0;border-top:1px solid #e4e6eb}\
ul.plain li:first-child{border-top:0}\
button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid #888;background:#fff;cursor:pointer}\
button.danger{border-color:#b3261e;color:#b3261e}button[disabled]{opacity:.5;cursor:default}\
input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.2rem 0 .8rem}\
code{word-break:break-all;background:#eef0f3;padding:.1rem .3rem;border-radius:4px}\
.row{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}.muted{color:#5b6170;font-size:.9rem}\
.qr svg{width:200px;height:200px}header{display:flex;justify-content:space-between;align-items:center}";

/// The copy buttons: progressive, the page works without them.
const SCRIPT: &str = "document.querySelectorAll('button[data-copy]').forEach(function(b){\
b.hidden=false;b.addEventListener('click',function(){\
var t=document.getElementById(b.getAttribute('data-copy')).textContent;\
if(navigator.clipboard){navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';});}});});";

/// A whole page around `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (PreEscaped("<!DOCTYPE html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main { (body) }
                script { (PreEscaped(SCRIPT)) }
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
