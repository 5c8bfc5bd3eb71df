package feeds

import (
	"bufio"
	"encoding/json"
	"time"
)

// JSONWriter writes {"site", "audience", "run_id", ..., "items": [...]}
// one item at a time.
type JSONWriter struct {
	w     *bufio.Writer
	count int
	enc   *json.Encoder
}

type jsonItem struct {
	ID                     string     `json:"id"`
	Title                  string     `json:"title"`
	Description            string     `json:"description"`
	Link                   string     `json:"link"`
	ImageLink              string     `json:"image_link"`
	Availability           string     `json:"availability"`
	AvailabilityDate       string     `json:"availability_date,omitempty"`
	Condition              string     `json:"condition"`
	Price                  string     `json:"price"`
	SalePrice              string     `json:"sale_price,omitempty"`
	SalePriceEffectiveDate string     `json:"sale_price_effective_date,omitempty"`
	Brand                  string     `json:"brand,omitempty"`
	GTIN                   string     `json:"gtin,omitempty"`
	MPN                    string     `json:"mpn,omitempty"`
	ProductType            string     `json:"product_type,omitempty"`
	GoogleProductCategory  string     `json:"google_product_category,omitempty"`
	ItemGroupID            string     `json:"item_group_id,omitempty"`
	Audience               string     `json:"custom_label_0"`
	Strategy               string     `json:"custom_label_1"`
	Reason                 string     `json:"custom_label_2"`
	OfferText              string     `json:"custom_label_3,omitempty"`
	Motivation             string     `json:"custom_label_4,omitempty"`
	OfferToken             string     `json:"offer_token,omitempty"`
	OfferExpires           *time.Time `json:"offer_expires,omitempty"`
}

func (j *JSONWriter) Begin(h Header) error {
	head, err := json.Marshal(struct {
		Site        string    `json:"site"`
		Audience    string    `json:"audience"`
		RunID       string    `json:"run_id"`
		RunFinished time.Time `json:"run_finished_at"`
		Generated   time.Time `json:"generated_at"`
	}{h.Site, h.Audience, h.RunID, h.RunFinished.UTC(), h.Generated.UTC()})
	if err != nil {
		return err
	}
	j.w.Write(head[:len(head)-1]) // leave the object open for items
	_, err = j.w.WriteString(`,"items":[` + "\n")
	return err
}

func (j *JSONWriter) Item(it *Item) error {
	ji := jsonItem{
		ID: it.ID, Title: it.Title, Description: it.Description, Link: it.Link, ImageLink: it.Image,
		Availability: it.Availability, Condition: it.Condition, Price: it.Price.String(),
		Brand: it.Brand, GTIN: it.GTIN, MPN: it.MPN, ProductType: it.ProductType,
		GoogleProductCategory: it.GoogleCategory, ItemGroupID: it.GroupID,
		Audience: it.Labels[0], Strategy: it.Labels[1], Reason: it.Labels[2], OfferText: it.Labels[3], Motivation: it.Labels[4],
		OfferToken: it.OfferToken,
	}
	if !it.AvailabilityDate.IsZero() {
		ji.AvailabilityDate = it.AvailabilityDate.Format(metaTime)
	}
	if it.HasSale() {
		ji.SalePrice, ji.SalePriceEffectiveDate = it.Sale.String(), it.SaleWindow.meta()
	}
	if !it.OfferExpires.IsZero() {
		exp := it.OfferExpires.UTC()
		ji.OfferExpires = &exp
	}
	if j.count > 0 {
		j.w.WriteByte(',')
	}
	j.count++
	if j.enc == nil {
		j.enc = json.NewEncoder(j.w)
		j.enc.SetEscapeHTML(false) // links keep their '&' readable
	}
	return j.enc.Encode(ji) // Encode ends the item with a newline

}

func (j *JSONWriter) End() error {
	j.w.WriteString("]}\n")
	return j.w.Flush()
}
