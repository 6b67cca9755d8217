import type ExcelJS from "exceljs";

/**
 * The orders sheet's layout and vocabulary, shared by the bundled example workbooks
 * (scripts/make-example-workbook.ts) and the admin server benchmark's generated workbooks.
 */
export const ORDER_COLUMNS: Partial<ExcelJS.Column>[] = [
  { header: "Order ID", key: "orderId", width: 18 },
  { header: "Ordered At", key: "orderedAt", width: 20, style: { numFmt: "yyyy-mm-dd hh:mm:ss" } },
  { header: "Customer", key: "customer", width: 10 },
  { header: "Phone", key: "phone", width: 15 },
  { header: "Address", key: "address", width: 40 },
  { header: "Item", key: "item", width: 18 },
  { header: "Quantity", key: "quantity", width: 9 },
  { header: "Unit Price", key: "unitPrice", width: 11, style: { numFmt: "#,##0" } },
  { header: "Total", key: "total", width: 11, style: { numFmt: "#,##0" } },
  { header: "Paid", key: "paid", width: 6 },
  { header: "Delivery Date", key: "deliveryDate", width: 13, style: { numFmt: "yyyy-mm-dd" } },
  { header: "Memo", key: "memo", width: 20 },
];

export const SURNAMES = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"] as const;
export const GIVEN_NAMES = [
  "민준",
  "서연",
  "도윤",
  "하은",
  "시우",
  "지우",
  "예준",
  "수아",
  "주원",
  "지민",
] as const;
export const DISTRICTS = [
  "서울특별시 강남구 테헤란로",
  "서울특별시 마포구 월드컵북로",
  "부산광역시 해운대구 센텀중앙로",
  "경기도 성남시 분당구 판교역로",
  "인천광역시 연수구 송도과학로",
] as const;
/** Items and their unit prices, index for index. */
export const ITEMS = [
  "생수 2L x 6",
  "즉석밥 12개입",
  "계란 30구",
  "우유 1L",
  "사과 3kg",
  "커피 원두 1kg",
  "휴지 30롤",
] as const;
export const PRICES = [5900, 14900, 8900, 2800, 24000, 32000, 18900] as const;
