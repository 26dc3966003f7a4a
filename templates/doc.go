// Package templates fills reply templates: the text a helper or a mailing
// sends, with variables written {{name}}.
//
// It owns the template language only: parsing and checking a template
// (Parse, Check), filling it for one contact and item (Render), and
// choosing a template's language (Pick). It does no I/O: callers read the
// template, the contact and the item from the store and hand them in. It
// is a package of its own because three others use it — the console to
// check a template when it is saved and to preview it, the mail package's
// mailings and batch answers — and none of them should depend on another
// for it.
//
// # Syntax
//
// A variable is {{name}}; spaces inside the braces are allowed. A
// fallback for an empty value follows a bar: {{name|дорогой друг}}. The
// variables are listed in Vars: the contact's name, city, wish and age,
// the helper's name, the item's subject and item.KEY for any top-level
// string or number of the item's data (a form's fields). A literal "{{"
// is written {{{{}}. An unknown variable, an empty one or an unclosed
// brace is an error that names it and its position, so a supervisor sees
// it when saving, not a recipient when reading.
//
// # Languages
//
// Templates with the same name are one template in several languages.
// Pick chooses the one in the contact's language, else the default
// language (DefaultLang, Russian), else the first there is.
package templates
