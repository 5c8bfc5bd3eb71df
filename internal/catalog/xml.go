package catalog

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
)

// googleNS is the namespace of Google Merchant's g: elements.
const googleNS = "http://base.google.com/ns/1.0"

// xmlFields maps a Google Merchant element (local name) to a field.
// g:product_type is the shop's own category path; custom labels become
// tags, so "overstock" in custom_label_0 works like a tag in the CSV.
var xmlFields = map[string]field{
	"id": fID, "title": fTitle, "description": fDescription, "summary": fDescription,
	"link": fLink, "image_link": fImageLink, "price": fPrice, "currency": fCurrency,
	"availability": fAvailability, "condition": fCondition, "brand": fBrand,
	"gtin": fGTIN, "mpn": fMPN, "product_type": fCategory, "category": fCategory,
	"google_product_category": fGoogleProductCategory, "item_group_id": fItemGroupID,
	"quantity": fStockQuantity, "stock_quantity": fStockQuantity,
	"launch_date": fLaunchDate, "margin": fMargin, "tags": fTags,
	"custom_label_0": fTags, "custom_label_1": fTags, "custom_label_2": fTags,
	"custom_label_3": fTags, "custom_label_4": fTags,
	"complements": fComplements, "upgrades": fUpgrades,
	"availability_date": fAvailabilityDate,
}

// xmlDecoder streams <item> (RSS 2.0) and <entry> (Atom) elements of a
// Google Merchant feed; everything outside them is skipped.
type xmlDecoder struct {
	d     *xml.Decoder
	limit *limitedReader
	item  int
}

func newXMLDecoder(br *bufio.Reader) *xmlDecoder {
	limit := &limitedReader{r: br, tooLong: errXMLTooLong}
	d := xml.NewDecoder(limit)
	d.CharsetReader = charset.NewReaderLabel // feeds in ISO-8859-1 and friends
	d.Entity = xml.HTMLEntity                // &nbsp; and co. in descriptions
	return &xmlDecoder{d: d, limit: limit}
}

func (x *xmlDecoder) Next() (Record, error) {
	for {
		// At most maxXMLItem bytes (plus the decoder's read-ahead) from here.
		x.limit.allowUpTo(x.limit.read + maxXMLItem)
		// The token starts where the previous one ended: an item's line is
		// the one of its "<item", however its attributes are laid out.
		start, _ := x.d.InputPos()
		tok, err := x.d.Token()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		line, _ := x.d.InputPos()
		if errors.Is(err, errXMLTooLong) {
			return Record{}, fmt.Errorf("malformed XML: an element near line %d is longer than %d bytes (a CDATA section or comment never closed?); nothing was imported", line, maxXMLItem)
		}
		if err := notUTF8XML(err); err != nil {
			return Record{}, err
		}
		if err != nil {
			return Record{}, fmt.Errorf("malformed XML near line %d: %w", line, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || (se.Name.Local != "item" && se.Name.Local != "entry") {
			continue
		}
		x.item++
		line = start
		rec := Record{Line: line, Item: x.item}
		err = x.readItem(&rec)
		if errors.Is(err, errXMLTooLong) {
			return Record{}, fmt.Errorf("malformed XML: item %d (line %d) is longer than %d bytes (a CDATA section or element never closed?); nothing was imported", x.item, line, maxXMLItem)
		}
		if err := notUTF8XML(err); err != nil {
			return Record{}, err
		}
		if err != nil {
			return Record{}, fmt.Errorf("malformed XML in item %d (line %d): %w", x.item, line, err)
		}
		return rec, nil
	}
}

// notUTF8XML explains encoding/xml's "invalid UTF-8": a feed that does not
// declare its encoding is UTF-8, and one that is not (a Latin-1 export)
// cannot be read past the first such byte. Other errors give nil.
func notUTF8XML(err error) error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) || se.Msg != "invalid UTF-8" {
		return nil
	}
	return fmt.Errorf(`the feed's text on line %d is not UTF-8: declare its encoding in the first line (<?xml version="1.0" encoding="ISO-8859-1"?>, or "windows-1252") or save it as UTF-8; nothing was imported`, se.Line)
}

// maxXMLItem bounds one item, and anything between two items, as
// maxJSONLine bounds a JSON line: encoding/xml holds an element's text
// whole, and a CDATA section never closed runs to the end of the file.
const maxXMLItem = maxJSONLine

var errXMLTooLong = errors.New("XML item too long")

// readItem fills rec from the children of one item. A g: element wins over
// a plain one of the same name: in Atom, <id> is the entry's URI while
// <g:id> is the product id.
func (x *xmlDecoder) readItem(rec *Record) error {
	fromGoogle := [numFields]bool{}
	for {
		tok, err := x.d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			f, known := xmlFields[t.Name.Local]
			if !known {
				if err := x.d.Skip(); err != nil {
					return err
				}
				continue
			}
			text, err := x.text(t)
			if err != nil {
				return err
			}
			google := t.Name.Space == googleNS
			switch {
			case f == fTags || f == fComplements || f == fUpgrades:
				rec.set(f, text)
			case google && !fromGoogle[f], !google && !fromGoogle[f] && rec.Values[f] == "":
				// the first g:product_type is the most specific path Google reads
				rec.Values[f] = text
				fromGoogle[f] = google
			}
		}
	}
}

// text is an element's character data; an Atom <link href="..."/> gives
// its href (the alternate link when there are several).
func (x *xmlDecoder) text(se xml.StartElement) (string, error) {
	if se.Name.Local == "link" {
		var href, rel string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "href":
				href = a.Value
			case "rel":
				rel = a.Value
			}
		}
		if href != "" {
			if err := x.d.Skip(); err != nil {
				return "", err
			}
			if rel != "" && rel != "alternate" {
				return "", nil
			}
			return href, nil
		}
	}
	var s string
	if err := x.d.DecodeElement(&s, &se); err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}
